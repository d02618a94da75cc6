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

/** Sets the balances of several accounts in one statement of one SQL text (the pairs as one JSON parameter). */
export async function setBalances(trx: Db, balances: readonly { id: number; balance: number }[]): Promise<void> {
  if (balances.length === 0) return;
  const json = JSON.stringify(balances);
  await (isPostgres(trx)
    ? // The ids also as a list, so that PostgreSQL looks each up rather than scan every account.
      sql`UPDATE accounts SET balance = b.balance FROM json_to_recordset(${json}::json) AS b(id integer, balance integer) WHERE accounts.id = b.id AND ${inList(trx, 'accounts.id', balances.map((b) => b.id))}`
    : sql`UPDATE accounts SET balance = b.balance FROM (SELECT value ->> 'id' AS id, value ->> 'balance' AS balance FROM json_each(${json})) AS b WHERE accounts.id = b.id`
  ).execute(trx);
}

/**
 * Records several transfers in one statement of one SQL text, in the order given, and returns
 * their ids in that order. The rows are inserted in list order, and an identity (or SQLite's
 * rowid) hands out increasing ids within one statement, so the ids sorted are the ids in order.
 */
export async function insertTransfers(trx: Db, transfers: readonly { fromId: number; toId: number; amount: number }[]): Promise<number[]> {
  if (transfers.length === 0) return [];
  const json = JSON.stringify(transfers.map((t) => [t.fromId, t.toId, t.amount]));
  const createdAt = new Date().toISOString();
  const { rows } = await (isPostgres(trx)
    ? sql<{ id: number }>`
        INSERT INTO transfers (from_id, to_id, amount, created_at)
        SELECT (t.value->>0)::integer, (t.value->>1)::integer, (t.value->>2)::integer, ${createdAt}
        FROM json_array_elements(${json}::json) WITH ORDINALITY AS t(value, position)
        ORDER BY t.position
        RETURNING id
      `
    : sql<{ id: number }>`
        INSERT INTO transfers (from_id, to_id, amount, created_at)
        SELECT t.value ->> 0, t.value ->> 1, t.value ->> 2, ${createdAt}
        FROM json_each(${json}) AS t
        ORDER BY t.key
        RETURNING id
      `
  ).execute(trx);
  return rows.map((row) => row.id).sort((a, b) => a - b);
}
