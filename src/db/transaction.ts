import type { Db } from './database.js';

/**
 * Runs `work` in a transaction: a new one, or the one `db` already is (the PostgreSQL locks hand
 * their work the transaction that holds them, and Kysely has no nested transactions).
 */
export function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
