import type { AccountRow, Db, TransferRow } from '../db/database.js';
import { findAccountsByIds } from '../db/accounts.js';
import { findAccountsForTransfer, insertTransfer, setBalance, writeTransfers } from '../db/transfers.js';
import type { CodedError } from '../errors.js';
import type { Locks } from '../locks/lock.js';
import { InsufficientFundsError, InvalidInputError, NotFoundError } from './errors.js';
import { parseId } from './ids.js';
import { assertInRange, INT32_MAX } from './input.js';

/** The most one transfer may move: what an Int holds. */
export const MAX_AMOUNT = INT32_MAX;

/** A transfer as a client asks for it: account ids as given, which may name no account. */
export type TransferRequest = { fromId: string; toId: string; amount: number };
/** A transfer whose accounts could exist: their ids parse. */
export type CheckedTransfer = { fromId: number; toId: number; amount: number };
export type TransferResult = { transfer: TransferRow; from: AccountRow; to: AccountRow };

/**
 * What a transfer must be to be asked for at all: an amount in range, and two different accounts;
 * else BAD_USER_INPUT. `argument` says how the caller names the transfer (`items[3]` for an item of
 * a job) and `details` adds to the error. Checked before any lock, by the mutation and for every
 * item of a job as it is submitted, so that they refuse alike.
 */
export function checkTransferInput(
  { fromId, toId, amount }: TransferRequest,
  { argument = '', details = {} }: { argument?: string; details?: Record<string, unknown> } = {},
): void {
  const name = (field: string) => (argument ? `${argument}.${field}` : field);
  assertInRange(name('amount'), amount, 1, MAX_AMOUNT, details);
  if (fromId === toId) {
    const message = argument ? `${name('toId')} must name another account than ${name('fromId')}.` : 'fromId and toId must name two different accounts.';
    throw new InvalidInputError(message, { ...details, argument: name('toId') });
  }
}

/**
 * The account ids of a transfer as stored, or NOT_FOUND for the first (the payer first) that cannot
 * name an account. The mutation checks this before any lock; a job's item, when it runs.
 */
export function parseTransferAccounts({ fromId, toId, amount }: TransferRequest): CheckedTransfer {
  const from = parseId(fromId);
  if (from === null) throw new NotFoundError('Account', fromId);
  const to = parseId(toId);
  if (to === null) throw new NotFoundError('Account', toId);
  return { fromId: from, toId: to, amount };
}

/** The locks a transfer holds: the mutation and the queue must name them alike. */
export const accountLockKeys = ({ fromId, toId }: { fromId: number; toId: number }): string[] => [`account:${fromId}`, `account:${toId}`];

/**
 * Moves money between two accounts, under their locks (taken in one order, so opposite transfers
 * cannot deadlock), in one transaction: the debit, the credit and the record commit together or not
 * at all.
 */
export async function transfer(locks: Locks, request: TransferRequest, { signal }: { signal?: AbortSignal } = {}): Promise<TransferResult> {
  checkTransferInput(request);
  const checked = parseTransferAccounts(request);
  return locks.withLocks(accountLockKeys(checked), (trx) => applyTransfer(trx, checked), { signal });
}

/**
 * The transfer itself, in the caller's transaction, whose locks (accountLockKeys) the caller holds:
 * the balances read here cannot change before the writes. NOT_FOUND (the payer checked first) or
 * INSUFFICIENT_FUNDS before anything is written.
 */
export async function applyTransfer(trx: Db, { fromId, toId, amount }: CheckedTransfer): Promise<TransferResult> {
  const accounts = await findAccountsForTransfer(trx, [fromId, toId]);
  const from = accounts.find((account) => account.id === fromId);
  const to = accounts.find((account) => account.id === toId);
  if (!from || !to || from.balance < amount) throw refusal({ fromId, toId, amount }, from?.balance, to?.balance);

  await setBalance(trx, fromId, from.balance - amount);
  await setBalance(trx, toId, to.balance + amount);
  const record = await insertTransfer(trx, { fromId, toId, amount });
  return { transfer: record, from: { ...from, balance: from.balance - amount }, to: { ...to, balance: to.balance + amount } };
}

/**
 * Many transfers, in the caller's transaction, whose locks (accountLockKeys of every one) the
 * caller holds, as if applyTransfer ran for each in turn: each is checked against the balances the
 * ones before it left, with the same refusals, and the writes are one read of the accounts, then
 * one update of their balances and one insert of the transfers (one statement on PostgreSQL),
 * whatever their number. Returns, in order, the id of each transfer made or its refusal
 * (NOT_FOUND, INSUFFICIENT_FUNDS), which writes nothing for it.
 */
export async function applyTransfers(trx: Db, transfers: readonly CheckedTransfer[]): Promise<(number | CodedError)[]> {
  const rows = await findAccountsByIds(trx, [...new Set(transfers.flatMap((t) => [t.fromId, t.toId]))]);
  const balances = new Map(rows.map((row) => [row.id, row.balance]));
  const changed = new Set<number>();
  const made: CheckedTransfer[] = [];
  const results = transfers.map((t) => {
    const from = balances.get(t.fromId);
    const to = balances.get(t.toId);
    if (from === undefined || to === undefined || from < t.amount) return refusal(t, from, to);
    balances.set(t.fromId, from - t.amount);
    balances.set(t.toId, to + t.amount);
    changed.add(t.fromId).add(t.toId);
    made.push(t);
    return made.length - 1;
  });
  const ids = await writeTransfers(trx, [...changed].map((id) => ({ id, balance: balances.get(id)! })), made);
  return results.map((result) => (typeof result === 'number' ? ids[result]! : result));
}

/**
 * Why a transfer that cannot be made on these balances (undefined: no such account) is refused:
 * NOT_FOUND for the payer first, then the payee, else INSUFFICIENT_FUNDS.
 */
function refusal({ fromId, toId, amount }: CheckedTransfer, fromBalance: number | undefined, toBalance: number | undefined): CodedError {
  if (fromBalance === undefined) return new NotFoundError('Account', String(fromId));
  if (toBalance === undefined) return new NotFoundError('Account', String(toId));
  return new InsufficientFundsError({ accountId: String(fromId), balance: fromBalance, amount });
}
