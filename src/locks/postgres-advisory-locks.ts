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
export const takeAdvisoryLocks =
  (timeoutMs: number) =>
  async (trx: Db, keys: readonly string[], deadline: number): Promise<void> => {
    const remainingMs = Math.max(1, Math.ceil(deadline - Date.now()));
    // One round trip for the bound, the locks and the bound's end: three statements sent as one
    // simple query, which takes no parameters, so the values are written in. Both are numbers made
    // here (the ids are decimal bigints), never text from a client. SET LOCAL ends with the
    // transaction even if the locks are not granted; the RESET keeps the bound from the work.
    // unnest hands the ids over in the array's (sorted) order, and each row's lock is taken
    // before the next row is read.
    const statements = sql.raw(
      `SET LOCAL lock_timeout = '${remainingMs}ms'; ` +
        `SELECT count(pg_advisory_xact_lock(id)) FROM unnest('{${advisoryLockIds(keys).join(',')}}'::bigint[]) AS id; ` +
        'RESET lock_timeout',
    );
    try {
      await statements.execute(trx);
    } catch (error) {
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockTimeoutError(timeoutMs);
      throw error;
    }
  };

/**
 * A 64-bit advisory lock id per key (the first 8 bytes of its SHA-256), deduplicated and sorted.
 * Sorting the ids themselves, not the key strings, keeps one global order even if two keys ever
 * shared an id, so no two transactions can wait for each other.
 */
export function advisoryLockIds(keys: readonly string[]): string[] {
  const ids = new Set(keys.map((key) => createHash('sha256').update(key).digest().readBigInt64BE(0)));
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
}
