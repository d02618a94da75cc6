import { sql } from 'kysely';
import { executeCompiledOnce } from './compiled-once.js';
import type { AccountRow, Db, TransferRow } from './database.js';
import { inList, listParameter } from './list-parameter.js';

/** One SELECT, of one SQL text, for any number of ids; rows come back in no particular order. */
export async function findAccountsByIds(db: Db, ids: readonly number[]): Promise<AccountRow[]> {
  if (ids.length === 0) return [];
  return executeCompiledOnce(db, 'accounts by ids', [listParameter(db, ids)], () =>
    db.selectFrom('accounts').select(['id', 'name', 'balance']).where(inList(db, 'id', ids)),
  );
}

export type AccountTransferRow = TransferRow & { account_id: number };

/**
 * The newest `last` transfers in or out of each account, in one statement for all the accounts:
 * for each account, the newest `last` of its outgoing and of its incoming transfers are read from
 * their indexes, so the cost grows with accounts × last, not with the size of the table.
 * Rows are ordered by account, newest first; each account may get up to 2 × last rows, which the
 * caller cuts to `last`.
 */
export async function findRecentTransfersForAccounts(
  db: Db,
  accountIds: readonly number[],
  last: number,
): Promise<AccountTransferRow[]> {
  if (accountIds.length === 0) return [];
  const { rows } = await sql<AccountTransferRow>`
    SELECT a.id AS account_id, t.id, t.from_id, t.to_id, t.amount, t.created_at
    FROM accounts a
    JOIN transfers t ON t.id IN (
      SELECT outgoing.id FROM (
        SELECT id FROM transfers WHERE from_id = a.id ORDER BY id DESC LIMIT ${last}
      ) outgoing
      UNION ALL
      SELECT incoming.id FROM (
        SELECT id FROM transfers WHERE to_id = a.id ORDER BY id DESC LIMIT ${last}
      ) incoming
    )
    WHERE ${inList(db, 'a.id', accountIds)}
    ORDER BY a.id, t.id DESC
  `.execute(db);
  return rows;
}
