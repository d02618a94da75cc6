import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { LockTimeoutError } from './errors.js';

const LOCK_NOT_AVAILABLE = '55P03'; // PostgreSQL's error when lock_timeout expires

/**
 * Locks that hold across every replica on one PostgreSQL database: for TransactionLocks, takes a
 * transaction-scoped advisory lock per key in the work's transaction. PostgreSQL releases them when
 * that transaction commits or rolls back, or when its connection dies, so a replica killed
 * mid-request leaves no lock held and nothing half-written. The wait spends what is left of the
 * deadline, then fails with LOCK_TIMEOUT (naming `timeoutMs`).
 */
export const takeAdvisoryLocks = (timeoutMs: number) => {
  const idCache = new Map<string, bigint>();
  return async (trx: Db, keys: readonly string[], deadline: number): Promise<void> => {
    const ids = advisoryLockIds(keys, idCache);
    const remainingMs = Math.max(1, Math.ceil(deadline - Date.now()));
    // One round trip for the bound, the locks and the bound's end: three statements sent as one
    // simple query, which takes no parameters, so the values are written in. Both are numbers made
    // here (the ids are decimal bigints), never text from a client. SET LOCAL ends with the
    // transaction even if the locks are not granted; the RESET keeps the bound from the work.
    // unnest hands the ids over in the array's (sorted) order, and each row's lock is taken
    // before the next row is read. So every batch has a SQL text of its own; the ids as one array
    // parameter would give one text, but as one statement of the extended protocol (set_config in
    // CTEs around the locks) it costs more: 180 locks took 180-200 µs of the backend's CPU against
    // 140-160, and 338-495 µs against 281-488 of wall time (bench/lock-statement-probe.ts).
    const statements = sql.raw(
      `SET LOCAL lock_timeout = '${remainingMs}ms'; ` +
        `SELECT count(pg_advisory_xact_lock(id)) FROM unnest('{${ids.join(',')}}'::bigint[]) AS id; ` +
        'RESET lock_timeout',
    );
    try {
      await statements.execute(trx);
    } catch (error) {
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockTimeoutError(timeoutMs);
      throw error;
    }
  };
};

/** Lock ids kept for reuse, at most: a queue batch names ~90 accounts, each hashed again otherwise. */
const ID_CACHE_MAX = 10_000;

/**
 * A 64-bit advisory lock id per key (the first 8 bytes of its SHA-256), deduplicated and sorted.
 * Sorting the ids themselves, not the key strings, keeps one global order even if two keys ever
 * shared an id, so no two transactions can wait for each other.
 */
export function advisoryLockIds(keys: readonly string[], cache?: Map<string, bigint>): string[] {
  const ids = new Set(keys.map((key) => cachedId(key, cache)));
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
}

/** The key's id from `cache`, or hashed (and kept: the cache starts over when full, so that a million counter names do not stay). */
function cachedId(key: string, cache: Map<string, bigint> | undefined): bigint {
  let id = cache?.get(key);
  if (id === undefined) {
    id = createHash('sha256').update(key).digest().readBigInt64BE(0);
    if (cache) {
      if (cache.size >= ID_CACHE_MAX) cache.clear();
      cache.set(key, id);
    }
  }
  return id;
}
