import { checkCounterName, MAX_NAME_LENGTH, MAX_STEP, MAX_WORK_MS } from '../../bank/counters.js';
import { builder } from './builder.js';

builder.objectType('Counter', {
  description: 'A named integer that many clients increment at once without losing an update.',
  fields: (t) => ({
    name: t.exposeString('name', { description: "The counter's name." }),
    value: t.exposeInt('value', { description: 'The current value; 0 for a counter never incremented.' }),
  }),
});

builder.queryField('counter', (t) =>
  t.field({
    type: 'Counter',
    description: 'Reads a counter. Every counter exists: one never incremented reads 0.',
    args: { name: t.arg.string({ description: `The counter's name: 1 to ${MAX_NAME_LENGTH} characters.` }) },
    resolve: async (_, { name }, ctx) => {
      checkCounterName(name);
      return { name, value: await ctx.loaders.counter.load(name) };
    },
  }),
);

builder.mutationField('increment', (t) =>
  t.field({
    type: 'Counter',
    description:
      "Adds `by` to a counter as a read-modify-write under a mutex held for that counter's name: read the value, wait `workMs`, write the sum. Concurrent increments queue for the mutex, so none is lost. Fails with BAD_USER_INPUT, changing nothing, if the result would leave the 32-bit Int range.",
    args: {
      name: t.arg.string({ description: `The counter's name: 1 to ${MAX_NAME_LENGTH} characters.` }),
      by: t.arg.int({ defaultValue: 1, description: `How much to add: ${-MAX_STEP} to ${MAX_STEP}.` }),
      workMs: t.arg.int({
        defaultValue: 0,
        description: `Simulated work inside the critical section, in milliseconds (0 to ${MAX_WORK_MS}): it makes the race that the mutex prevents visible.`,
      }),
    },
    resolve: (_, args, ctx) => ctx.bank.increment(args, { signal: ctx.request.signal }),
  }),
);
