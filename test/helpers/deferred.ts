import { deferred } from '../../src/deferred.js';

/** Resolves once `count` events have been counted with `tick()`. */
export function countdown(count: number) {
  const done = deferred();
  let seen = 0;
  if (count === 0) done.resolve();
  return {
    promise: done.promise,
    tick() {
      if (++seen === count) done.resolve();
    },
  };
}
