import type { Db } from '../../src/db/database.js';
import type { Locks } from '../../src/locks/lock.js';

/**
 * A lock that locks nothing, and runs the work outside any transaction: the suites run with it to
 * show that the real locks are what keep them green. (On SQLite a transaction alone would keep
 * them green too, since its one writer runs one transaction at a time: that is part of what the
 * locks are there.)
 */
export const noLocks = (_configured: Locks, db: Db): Locks => ({
  withLocks: (_keys, work) => work(db),
});

/** Wraps a Locks and calls back when a caller starts waiting and when it holds its locks. */
export function observeLocks(inner: Locks, events: { waiting?: (keys: readonly string[]) => void; holding?: (keys: readonly string[]) => void }): Locks {
  return {
    withLocks(keys, work, options) {
      events.waiting?.(keys);
      return inner.withLocks(
        keys,
        (db) => {
          events.holding?.(keys);
          return work(db);
        },
        options,
      );
    },
  };
}
