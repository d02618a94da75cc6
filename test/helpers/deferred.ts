/** A promise with its resolve function outside: the code under test resolves it, the test awaits it. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

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
