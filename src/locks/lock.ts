import type { Db } from '../db/database.js';

/**
 * Mutual exclusion over named keys ("counter:visits", "account:42") for work on the database. One
 * implementation, TransactionLocks, in two modes: on SQLite it guards one process; on PostgreSQL
 * it guards every replica on one database. The same suite (test/locks.test.ts) runs against each.
 */
export interface Locks {
  /**
   * Runs `work` in a transaction while holding the lock of every key: its reads and writes commit
   * together, and the locks are released after the commit (or the rollback, when `work` throws).
   *
   * Keys are taken in one fixed order, so two callers that want the same keys in a different order
   * cannot deadlock. Waits at most the implementation's timeout for all of them together, then
   * throws LOCK_TIMEOUT having run nothing. If `signal` aborts before every lock is held, throws
   * its reason having run nothing; once they are held, `work` runs to completion whatever the
   * signal does.
   */
  withLocks<T>(keys: readonly string[], work: (trx: Db) => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
}
