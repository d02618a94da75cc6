import { InsufficientFundsError, NotFoundError } from '../graphql/errors.js';
import { parseAccountId } from './accounts.js';
import type { AccountRow, Db, TransferRow } from './database.js';
import { inList } from './list-parameter.js';
import { inTransaction } from './transaction.js';

export type TransferResult = { transfer: TransferRow; from: AccountRow; to: AccountRow };

/**
 * The account ids of a transfer as submitted, or NOT_FOUND for the first (payer first) that cannot
 * name an account. The mutation and the queue both go through here, so they refuse alike.
 */
export function parseTransferAccounts(fromKey: string, toKey: string): { fromId: number; toId: number } {
  const fromId = parseAccountId(fromKey);
  if (fromId === null) throw new NotFoundError('Account', fromKey);
  const toId = parseAccountId(toKey);
  if (toId === null) throw new NotFoundError('Account', toKey);
  return { fromId, toId };
}

/** The lock keys applyTransfer's caller holds: the mutation and the queue must name them alike. */
export const accountLockKeys = ({ fromId, toId }: { fromId: number; toId: number }): string[] => [`account:${fromId}`, `account:${toId}`];

/**
 * Moves `amount` from one account to another in one transaction (a new one, or the one `db` is):
 * the debit, the credit and the transfer record commit together or not at all. The caller holds
 * the locks of both accounts (accountLockKeys), so the balance read here cannot change before the
 * write. Throws NOT_FOUND (the payer is checked first) or INSUFFICIENT_FUNDS, and then nothing is
 * written.
 */
export async function applyTransfer(
  db: Db,
  { fromId, toId, amount }: { fromId: number; toId: number; amount: number },
): Promise<TransferResult> {
  return inTransaction(db, async (trx) => {
    const accounts = await trx.selectFrom('accounts').select(['id', 'name', 'balance']).where('id', 'in', [fromId, toId]).execute();
    const from = accounts.find((account) => account.id === fromId);
    const to = accounts.find((account) => account.id === toId);
    if (!from) throw new NotFoundError('Account', String(fromId));
    if (!to) throw new NotFoundError('Account', String(toId));
    if (from.balance < amount) throw new InsufficientFundsError({ accountId: String(fromId), balance: from.balance, amount });

    await trx.updateTable('accounts').set({ balance: from.balance - amount }).where('id', '=', fromId).execute();
    await trx.updateTable('accounts').set({ balance: to.balance + amount }).where('id', '=', toId).execute();
    const transfer = await trx
      .insertInto('transfers')
      .values({ from_id: fromId, to_id: toId, amount, created_at: new Date().toISOString() })
      .returningAll()
      .executeTakeFirstOrThrow();
    return {
      transfer,
      from: { ...from, balance: from.balance - amount },
      to: { ...to, balance: to.balance + amount },
    };
  });
}

/** One SELECT, of one SQL text, for any number of ids; rows come back in no particular order. */
export async function findTransfersByIds(db: Db, ids: readonly number[]): Promise<TransferRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('transfers').selectAll().where(inList(db, 'id', ids)).execute();
}
