import { LockTimeoutError } from './errors.js';

/**
 * Waits for `acquiring` (a mutex's or a semaphore's acquire), at most until `deadline` (then
 * LOCK_TIMEOUT, naming `timeoutMs`) or until `signal` aborts (then its reason). A waiter that gives
 * up keeps its place in the queue: what it was to get is released as soon as it comes, so that it
 * passes on to the next waiter.
 */
export async function acquireBefore<T>(acquiring: Promise<T>, release: (acquired: T) => void, deadline: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  try {
    return await raceDeadline(acquiring, deadline, timeoutMs, signal);
  } catch (error) {
    void acquiring.then(release);
    throw error;
  }
}

/** Resolves with `promise`, or rejects at the deadline (LOCK_TIMEOUT) or when `signal` aborts. */
function raceDeadline<T>(promise: Promise<T>, deadline: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => settle(() => reject(new LockTimeoutError(timeoutMs))), Math.max(0, deadline - Date.now()));
    const onAbort = () => settle(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    function settle(finish: () => void) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      finish();
    }
    promise.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}
