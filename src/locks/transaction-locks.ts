import { performance } from 'node:perf_hooks';
import type { Db } from '../db/database.js';
import { ConnectionSlots } from './connection-slots.js';
import { KeyMutexes } from './key-mutexes.js';
import type { Locks } from './lock.js';

export type TransactionLocksOptions = {
  /** How long a caller may wait for all its locks (LOCK_TIMEOUT_MS). */
  timeoutMs: number;
  /**
   * How many connections lock holders may take at once: 1 on SQLite, whose one writer runs one
   * transaction at a time; DATABASE_LOCK_CONNECTIONS on PostgreSQL, fewer than the pool.
   */
  connections: number;
  /**
   * Takes the locks of other processes in the work's transaction, by the deadline, before the work
   * runs: PostgreSQL's advisory locks (postgres-advisory-locks.ts). None on SQLite, which has one
   * process per database file.
   */
  lockAcrossProcesses?: (trx: Db, keys: readonly string[], deadline: number) => Promise<void>;
  /** Told how long each wait took, once it is over (metrics, traces): key, connection, advisory. */
  onWait?: (kind: LockWaitKind, ms: number) => void;
};

export type LockWaitKind = 'key' | 'connection' | 'advisory';

/**
 * Locks in three layers, each waited for by one deadline, in this order:
 * - an in-process mutex per key: callers of this process that want the same key queue in memory,
 *   and only the one at the head goes on, so a burst of contended increments holds one connection
 *   per key, not one per request;
 * - a connection slot: lock holders take at most `connections` connections at once, so that reads
 *   and /readiness always find one (on SQLite they have a connection of their own);
 * - the transaction the work runs in, and in it the locks of other processes, if any.
 * A slot is only ever held by a caller that has all its keys, so no slot holder waits for a key,
 * and the waits cannot deadlock. The first two waits are in memory, before any connection is taken.
 */
export class TransactionLocks implements Locks {
  readonly #keys: KeyMutexes;
  readonly #connections: ConnectionSlots;

  constructor(
    private readonly db: Db,
    private readonly options: TransactionLocksOptions,
  ) {
    this.#keys = new KeyMutexes(options.timeoutMs);
    this.#connections = new ConnectionSlots(options.connections, options.timeoutMs);
  }

  /** Connections held by lock holders now, and keys with a holder or a waiter; for tests. */
  get inUse(): { connections: number; keys: number } {
    return { connections: this.#connections.inUse, keys: this.#keys.size };
  }

  withLocks<T>(keys: readonly string[], work: (trx: Db) => Promise<T>, { signal }: { signal?: AbortSignal } = {}): Promise<T> {
    const deadline = Date.now() + this.options.timeoutMs;
    const { onWait, lockAcrossProcesses } = this.options;
    let waitStarted = onWait ? performance.now() : 0;
    const waited = (kind: LockWaitKind) => {
      if (!onWait) return;
      const now = performance.now();
      onWait(kind, now - waitStarted);
      waitStarted = now;
    };
    return this.#keys.withKeys(keys, deadline, signal, async () => {
      waited('key');
      const release = await this.#connections.acquire(deadline, signal);
      waited('connection');
      try {
        return await this.db.transaction().execute(async (trx) => {
          if (lockAcrossProcesses) {
            waitStarted = onWait ? performance.now() : 0;
            await lockAcrossProcesses(trx, keys, deadline);
            waited('advisory');
          }
          // The client may have left while the locks were being taken: then write nothing.
          signal?.throwIfAborted();
          return work(trx);
        });
      } finally {
        release();
      }
    });
  }
}
