import { setTimeout } from 'node:timers/promises';
import { assertInRange } from '../../bank/input.js';
import { builder } from './builder.js';

export const MAX_DELAY_MS = 10_000;

builder.queryField('hello', (t) =>
  t.string({
    description:
      'A greeting, answered after `delayMs` milliseconds. The wait is a timer, not a busy loop: a thousand concurrent slow greetings take about one delay in all, and other requests are served meanwhile. If the client goes away, the timer is cancelled.',
    args: {
      name: t.arg.string({ defaultValue: 'World', description: 'Who to greet.' }),
      delayMs: t.arg.int({ defaultValue: 1000, description: `How long to wait before answering, in milliseconds: 0 to ${MAX_DELAY_MS}.` }),
    },
    resolve: (_, { name, delayMs }, ctx) => {
      assertInRange('delayMs', delayMs, 0, MAX_DELAY_MS);
      const greeting = `Hello, ${name}`;
      if (delayMs === 0) return greeting;
      // The request's signal aborts when the client disconnects: the timer is cleared at once.
      return setTimeout(delayMs, greeting, { signal: ctx.request.signal });
    },
  }),
);
