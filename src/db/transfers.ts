import { sql } from 'kysely';
import type { AccountRow, Db, TransferRow } from './database.js';
import { isPostgres } from './dialect.js';
import { inList } from './list-parameter.js';

/** The accounts of a transfer as they are now, in the caller's transaction; unknown ids have no row. */
export async function findAccountsForTransfer(trx: Db, ids: readonly number[]): Promise<AccountRow[]> {
  return trx.selectFrom('accounts').select(['id', 'name', 'balance']).where('id', 'in', ids).execute();
}

export async function setBalance(trx: Db, accountId: number, balance: number): Promise<void> {
  await trx.updateTable('accounts').set({ balance }).where('id', '=', accountId).execute();
}

/** Records a transfer, committed at the time it is written; its id grows in commit order. */
export async function insertTransfer(trx: Db, { fromId, toId, amount }: { fromId: number; toId: number; amount: number }): Promise<TransferRow> {
  return trx.insertInto('transfers').values({ from_id: fromId, to_id: toId, amount, created_at: new Date().toISOString() }).returningAll().executeTakeFirstOrThrow();
}

/** One SELECT, of one SQL text, for any number of ids; rows come back in no particular order. */
export async function findTransfersByIds(db: Db, ids: readonly number[]): Promise<TransferRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('transfers').selectAll().where(inList(db, 'id', ids)).execute();
}

/**
 * Sets the balances of several accounts and records several transfers, in the order given, and
 * returns the transfers' ids in that order: one statement on PostgreSQL (the update a CTE of the
 * insert, one round trip inside the caller's locks), two on SQLite; each of one SQL text whatever
 * the numbers (the rows travel as JSON parameters). The rows are inserted in list order, and an
 * identity (or SQLite's rowid) hands out increasing ids within one statement, so the ids sorted
 * are the ids in order.
 */
export async function writeTransfers(
  trx: Db,
  balances: readonly { id: number; balance: number }[],
  transfers: readonly { fromId: number; toId: number; amount: number }[],
): Promise<number[]> {
  if (transfers.length === 0) return [];
  const balancesJson = JSON.stringify(balances);
  const transfersJson = JSON.stringify(transfers.map((t) => [t.fromId, t.toId, t.amount]));
  const createdAt = new Date().toISOString();
  if (isPostgres(trx)) {
    // The ids also as a list, so that PostgreSQL looks each account up rather than scan them all.
    // A data-modifying CTE runs once, to completion, whether or not the insert reads it.
    const { rows } = await sql<{ id: number }>`
      WITH balances AS (
        UPDATE accounts SET balance = b.balance FROM json_to_recordset(${balancesJson}::json) AS b(id integer, balance integer)
        WHERE accounts.id = b.id AND ${inList(trx, 'accounts.id', balances.map((b) => b.id))}
      )
      INSERT INTO transfers (from_id, to_id, amount, created_at)
      SELECT (t.value->>0)::integer, (t.value->>1)::integer, (t.value->>2)::integer, ${createdAt}
      FROM json_array_elements(${transfersJson}::json) WITH ORDINALITY AS t(value, position)
      ORDER BY t.position
      RETURNING id
    `.execute(trx);
    return rows.map((row) => row.id).sort((a, b) => a - b);
  }
  await sql`UPDATE accounts SET balance = b.balance FROM (SELECT value ->> 'id' AS id, value ->> 'balance' AS balance FROM json_each(${balancesJson})) AS b WHERE accounts.id = b.id`.execute(trx);
  const { rows } = await sql<{ id: number }>`
    INSERT INTO transfers (from_id, to_id, amount, created_at)
    SELECT t.value ->> 0, t.value ->> 1, t.value ->> 2, ${createdAt}
    FROM json_each(${transfersJson}) AS t
    ORDER BY t.key
    RETURNING id
  `.execute(trx);
  return rows.map((row) => row.id).sort((a, b) => a - b);
}
