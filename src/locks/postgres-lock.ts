import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { LockTimeoutError } from '../errors.js';
import type { Locks } from './lock.js';
import { MemoryLocks } from './memory-lock.js';

const LOCK_NOT_AVAILABLE = '55P03'; // PostgreSQL's error when lock_timeout expires

/**
 * Locks that hold across every replica on one PostgreSQL database: transaction-scoped advisory
 * locks, taken in the transaction that the work then runs in. PostgreSQL releases them when that
 * transaction commits or rolls back, or when its connection dies, so a replica killed mid-request
 * leaves no lock held and nothing half-written.
 *
 * An in-process mutex sits in front: requests of this replica that want the same key queue in
 * memory, and only the one at the head takes a pooled connection to wait on the advisory lock. A
 * burst of contended increments therefore holds one connection per key, not one per request, and
 * unrelated reads still find connections free.
 */
export class PostgresLocks implements Locks {
  readonly #memory: MemoryLocks;

  constructor(
    private readonly db: Db,
    private readonly timeoutMs: number,
  ) {
    this.#memory = new MemoryLocks(db, timeoutMs);
  }

  withLocks<T>(keys: readonly string[], work: (db: Db) => Promise<T>, { signal }: { signal?: AbortSignal } = {}): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    return this.#memory.withLocksUntil(
      deadline,
      keys,
      () =>
        this.db.transaction().execute(async (trx) => {
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
        }),
      { signal },
    );
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
