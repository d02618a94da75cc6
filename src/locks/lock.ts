import type { Db } from '../db/database.js';

/**
 * Mutual exclusion over named keys ("counter:visits", "account:42"). One implementation per mode:
 * memory-lock.ts guards one process (SQLite); postgres-lock.ts guards every replica on one
 * PostgreSQL database. The same suite (test/locks.test.ts) runs against each.
 */
export interface Locks {
  /**
   * Runs `work` while holding the lock of every key. Keys are taken in one fixed order, so two
   * callers that want the same keys in a different order cannot deadlock. Waits at most the
   * implementation's timeout for all of them together, then throws LOCK_TIMEOUT having run nothing.
   * If `signal` aborts before every lock is held, throws its reason having run nothing; once they
   * are held, `work` runs to completion whatever the signal does, and the locks are released after.
   *
   * `work` gets the database to use while the locks are held: with PostgreSQL that is the
   * transaction that holds them, so the work commits or rolls back with its locks.
   */
  withLocks<T>(keys: readonly string[], work: (db: Db) => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
}
