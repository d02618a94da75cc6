import type { AccountRow, Db, TransferRow } from './database.js';
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
