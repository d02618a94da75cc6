import type { Db, JobItemRow, JobRow } from '../db/database.js';
import { completeItem, lockOwnedItem, type ItemOutcome } from '../db/jobs.js';
import { inTransaction } from '../db/transaction.js';
import type { Locks } from '../locks/lock.js';
import type { CodedError } from '../errors.js';
import { InsufficientFundsError, NotFoundError } from './errors.js';
import { accountLockKeys, applyTransfer, parseTransferAccounts } from './transfers.js';

/**
 * Applies one claimed item of a job as a transfer, under the same account locks and in the same
 * kind of transaction as the transfer mutation, and records its outcome in that one transaction:
 * so an item is applied once, even if its process dies mid-way (its claim is then voided and it
 * runs again from the start). Refusals the mutation would answer (NOT_FOUND, INSUFFICIENT_FUNDS)
 * fail the item and the job goes on; anything else is thrown, for the worker to hand the item back.
 * Returns the job as the outcome left it, or undefined if the item is no longer this worker's.
 */
export async function runJobItem({ db, locks }: { db: Db; locks: Locks }, item: JobItemRow, workerId: string): Promise<JobRow | undefined> {
  const record = async (trx: Db, outcome: () => Promise<ItemOutcome>) => ((await lockOwnedItem(trx, item.id, workerId)) ? completeItem(trx, item, await outcome()) : undefined);
  let accounts;
  try {
    accounts = parseTransferAccounts({ fromId: item.from_id, toId: item.to_id, amount: item.amount });
  } catch (error) {
    // An id that cannot name an account: the item fails with NOT_FOUND, without taking a lock.
    if (error instanceof NotFoundError) return inTransaction(db, (trx) => record(trx, async () => failure(error)));
    throw error;
  }
  return locks.withLocks(accountLockKeys(accounts), (trx) =>
    record(trx, async () => {
      try {
        return { transferId: (await applyTransfer(trx, accounts)).transfer.id };
      } catch (error) {
        // Refused before anything was written: the item fails, the job goes on.
        if (error instanceof NotFoundError || error instanceof InsufficientFundsError) return failure(error);
        throw error;
      }
    }),
  );
}

const failure = (error: CodedError): ItemOutcome => ({ error: { code: error.code, message: error.message } });
