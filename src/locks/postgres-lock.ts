import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { LockTimeoutError } from '../graphql/errors.js';
import { ConnectionSlots } from './connection-slots.js';
import type { Locks } from './lock.js';
import { MemoryLocks } from './memory-lock.js';

const LOCK_NOT_AVAILABLE = '55P03'; // PostgreSQL's error when lock_timeout expires

/**
 * Locks that hold across every replica on one PostgreSQL database: transaction-scoped advisory
 * locks, taken in the transaction that the work then runs in. PostgreSQL releases them when that
 * transaction commits or rolls back, or when its connection dies, so a replica killed mid-request
 * leaves no lock held and nothing half-written.
 *
 * Two bounds sit in front, so that lock holders never take every pooled connection:
 * - an in-process mutex per key: requests of this replica that want the same key queue in memory,
 *   and only the one at the head goes on, so a burst of contended increments holds one connection
 *   per key, not one per request;
 * - `connections` slots (DATABASE_LOCK_CONNECTIONS, fewer than the pool): holders of distinct keys
 *   take at most that many connections at once, and the rest of the pool stays for reads and
 *   /readiness, however many slow increments on distinct names run.
 * Both waits come before the connection is taken, in memory, and spend the same deadline.
 */
export class PostgresLocks implements Locks {
  readonly #memory: MemoryLocks;
  readonly #connections: ConnectionSlots;

  constructor(
    private readonly db: Db,
    private readonly timeoutMs: number,
    connections: number,
  ) {
    this.#memory = new MemoryLocks(db, timeoutMs);
    this.#connections = new ConnectionSlots(connections, timeoutMs);
  }

  /** Connections held by lock holders now; for tests. */
  get connectionsInUse(): number {
    return this.#connections.inUse;
  }

  withLocks<T>(keys: readonly string[], work: (db: Db) => Promise<T>, { signal }: { signal?: AbortSignal } = {}): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    // The key mutexes first, then a connection slot: a slot is only ever held by a caller that has
    // all its keys, so no slot holder waits for a key, and the two waits cannot deadlock.
    return this.#memory.withLocksUntil(deadline, keys, () => this.#withConnectionSlot(deadline, signal, () => this.#inLockingTransaction(deadline, keys, work, signal)), { signal });
  }

  async #withConnectionSlot<T>(deadline: number, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    const release = await this.#connections.acquire(deadline, signal);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Runs `work` in a transaction that first takes the advisory lock of every key, by the deadline. */
  #inLockingTransaction<T>(deadline: number, keys: readonly string[], work: (db: Db) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      // The wait for other replicas spends what is left of the same deadline.
      const remainingMs = Math.max(1, deadline - Date.now());
      await sql`SELECT set_config('lock_timeout', ${`${remainingMs}ms`}, true)`.execute(trx);
      for (const id of advisoryLockIds(keys)) {
        try {
          await sql`SELECT pg_advisory_xact_lock(${id}::bigint)`.execute(trx);
        } catch (error) {
          if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockTimeoutError(this.timeoutMs);
          throw error;
        }
      }
      // The bound is for the wait on other replicas only, not for the work that follows.
      await sql`RESET lock_timeout`.execute(trx);
      // The client may have left while another replica held the lock: then write nothing.
      signal?.throwIfAborted();
      return work(trx);
    });
  }
}

/**
 * A 64-bit advisory lock id per key (the first 8 bytes of its SHA-256), deduplicated and sorted.
 * Sorting the ids themselves, not the key strings, keeps one global order even if two keys ever
 * shared an id, so no two transactions can wait for each other.
 */
export function advisoryLockIds(keys: readonly string[]): string[] {
  const ids = new Set(keys.map((key) => createHash('sha256').update(key).digest().readBigInt64BE(0)));
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
}
