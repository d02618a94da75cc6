/**
 * Mutual exclusion over named keys ("counter:visits", "account:42"). One implementation per mode:
 * memory-lock.ts guards one process.
 */
export interface Locks {
  /**
   * Runs `work` while holding the lock of every key. Keys are taken in sorted order, so two callers
   * that want the same keys in a different order cannot deadlock. Waits at most the implementation's
   * timeout for all of them together, then throws LOCK_TIMEOUT having run nothing. If `signal`
   * aborts while still waiting, throws its reason having run nothing; once every lock is held,
   * `work` runs to completion whatever the signal does, and the locks are released after it.
   */
  withLocks<T>(keys: readonly string[], work: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
}
