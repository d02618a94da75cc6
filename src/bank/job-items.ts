import type { Db, JobItemRow, JobRow } from '../db/database.js';
import { ClaimsVoidedError, completeItems, lockOwnedItems, type CompletedItem } from '../db/jobs.js';
import { inTransaction } from '../db/transaction.js';
import type { Locks } from '../locks/lock.js';
import { NotFoundError } from './errors.js';
import { accountLockKeys, applyTransfers, parseTransferAccounts, type CheckedTransfer } from './transfers.js';

/**
 * A test-only seam: runs inside the transaction that applies a batch, after its writes and before
 * its outcomes are recorded. Throwing rolls the batch back, as an unexpected fault would
 * (test/queue.test.ts fails one item every time, or waits for the abort of a forceful shutdown).
 */
export type ItemsFault = (items: readonly JobItemRow[], options: { signal: AbortSignal }) => void | Promise<void>;

export type JobItemsDeps = { db: Db; locks: Locks; itemsFault?: ItemsFault };

/** What a batch left: the job as its outcomes left it, and each item run with its outcome. */
export type BatchResult = { job: JobRow; completed: CompletedItem[] };

/**
 * Applies claimed items of one job as transfers, and records their outcomes, in one transaction,
 * under the locks of every account they name (the transfer mutation's locks, taken in one sorted
 * order, so no deadlock): so each item is applied once, even if its process dies mid-way (its claim
 * is then voided and it runs again from the start). The claims are checked as the outcomes are
 * written (completeItems); if one was voided meanwhile, the batch rolls back and runs again with
 * only the items still this worker's. The transfers are checked one after the other
 * against the balances the ones before left, with the mutation's refusals (NOT_FOUND,
 * INSUFFICIENT_FUNDS), which fail their item while the others go on. Anything else is thrown, and
 * rolls back the whole batch: the caller hands the items back, or runs them one by one to find the
 * one at fault. Also throws if `signal` aborts before the commit (a forceful shutdown). Returns
 * undefined if none of the items is still this worker's.
 */
export async function runJobItems(deps: JobItemsDeps, items: readonly JobItemRow[], workerId: string, signal: AbortSignal): Promise<BatchResult | undefined> {
  const jobId = items[0]?.job_id;
  if (jobId === undefined) return undefined;
  const accounts = new Map<number, CheckedTransfer | NotFoundError>(items.map((item) => [item.id, parseAccounts(item)]));
  const keys = [...accounts.values()].flatMap((checked) => (checked instanceof NotFoundError ? [] : accountLockKeys(checked)));
  // `ownedFirst`: find the items still ours before applying any (a statement more); otherwise
  // completeItems checks them, and throws if one is not.
  const work = (ownedFirst: boolean) => async (trx: Db): Promise<BatchResult | undefined> => {
    let runnable = items;
    if (ownedFirst) {
      const owned = await lockOwnedItems(trx, items.map((item) => item.id), workerId);
      runnable = items.filter((item) => owned.has(item.id));
      if (runnable.length === 0) return undefined;
    }
    const transfers = runnable.flatMap((item) => {
      const checked = accounts.get(item.id)!;
      return checked instanceof NotFoundError ? [] : [checked];
    });
    const results = await applyTransfers(trx, transfers);
    let next = 0;
    const completed = runnable.map((item): CompletedItem => {
      const checked = accounts.get(item.id)!;
      const result = checked instanceof NotFoundError ? checked : results[next++]!;
      return { item, outcome: typeof result === 'number' ? { transferId: result } : { error: { code: result.code, message: result.message } } };
    });
    await deps.itemsFault?.(runnable, { signal });
    signal.throwIfAborted();
    return { job: await completeItems(trx, jobId, completed, workerId), completed };
  };
  // Items whose ids name no account take no lock; their failure is still recorded in a transaction.
  const run = (ownedFirst: boolean) => (keys.length === 0 ? inTransaction(deps.db, work(ownedFirst)) : deps.locks.withLocks(keys, work(ownedFirst), { signal }));
  try {
    return await run(false);
  } catch (error) {
    // A claim was voided while the batch ran (rolled back): apply the items still ours, once.
    if (error instanceof ClaimsVoidedError) return run(true);
    throw error;
  }
}

/** The item's accounts, or NOT_FOUND for an id that cannot name one (its item fails without a lock). */
function parseAccounts(item: JobItemRow): CheckedTransfer | NotFoundError {
  try {
    return parseTransferAccounts({ fromId: item.from_id, toId: item.to_id, amount: item.amount });
  } catch (error) {
    if (error instanceof NotFoundError) return error;
    throw error;
  }
}
