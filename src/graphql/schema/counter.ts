import { setTimeout } from 'node:timers/promises';
import { readCounter, writeCounter } from '../../db/counters.js';
import { assertInRange, assertLength, BadUserInputError } from '../errors.js';
import { builder } from './builder.js';

const MAX_NAME_LENGTH = 100;
const MAX_STEP = 1_000_000;
const MAX_WORK_MS = 5000;
const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;

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
      assertLength('name', name, 1, MAX_NAME_LENGTH);
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
    resolve: async (_, { name, by, workMs }, ctx) => {
      assertLength('name', name, 1, MAX_NAME_LENGTH);
      assertInRange('by', by, -MAX_STEP, MAX_STEP);
      assertInRange('workMs', workMs, 0, MAX_WORK_MS);
      return ctx.locks.withLocks(
        [`counter:${name}`],
        async (db) => {
          const value = (await readCounter(db, name)) + by;
          // Once the lock is held the increment completes, even if the client leaves meanwhile.
          if (workMs > 0) await setTimeout(workMs);
          if (value < INT_MIN || value > INT_MAX) {
            throw new BadUserInputError(`by: adding ${by} would take counter "${name}" outside the 32-bit Int range (${INT_MIN} to ${INT_MAX}).`, {
              argument: 'by',
            });
          }
          await writeCounter(db, name, value);
          return { name, value };
        },
        { signal: ctx.request.signal },
      );
    },
  }),
);
