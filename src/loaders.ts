import DataLoader from 'dataloader';
import { findAccountsByIds, findRecentTransfersForAccounts, parseAccountId } from './db/accounts.js';
import { findCountersByNames } from './db/counters.js';
import type { AccountRow, Db, JobRow, TransferRow } from './db/database.js';
import { findJobsByIds } from './db/jobs.js';
import { findTransfersByIds } from './db/transfers.js';

export type RecentTransfersKey = { accountId: number; last: number };

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * One DataLoader per lookup, made anew for every request (see context.ts): lookups made in the same
 * tick of one operation are coalesced into one SQL statement, and no cache outlives the request or
 * is shared between clients. Each batch function returns its results in key order.
 */
export function createLoaders(db: Db) {
  return {
    /** Account by GraphQL id; null for an id that names no account. */
    account: new DataLoader<string, AccountRow | null>(async (ids) => {
      const numericIds = ids.map(parseAccountId);
      const known = numericIds.filter((id): id is number => id !== null);
      const byId = new Map((await findAccountsByIds(db, known)).map((row) => [row.id, row]));
      return numericIds.map((id) => (id === null ? null : (byId.get(id) ?? null)));
    }),

    /** An account's newest transfers; keys with different `last` values still share one statement. */
    recentTransfers: new DataLoader<RecentTransfersKey, TransferRow[], string>(
      async (keys) => {
        const last = Math.max(...keys.map((key) => key.last));
        const rows = await findRecentTransfersForAccounts(db, [...new Set(keys.map((key) => key.accountId))], last);
        const byAccount = new Map<number, TransferRow[]>();
        for (const { account_id: accountId, ...transfer } of rows) {
          const list = byAccount.get(accountId);
          if (list) list.push(transfer);
          else byAccount.set(accountId, [transfer]);
        }
        return keys.map(({ accountId, last }) =>
          (byAccount.get(accountId) ?? []).slice(0, last),
        );
      },
      { cacheKeyFn: ({ accountId, last }) => `${accountId}:${last}` },
    ),

    /** Transfer by id (job items link to theirs); ids come from the database, so all exist. */
    transfer: new DataLoader<number, TransferRow | null>(async (ids) => {
      const byId = new Map((await findTransfersByIds(db, ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /** Job by id; null for an unknown id. */
    job: new DataLoader<number, JobRow | null>(async (ids) => {
      const byId = new Map((await findJobsByIds(db, ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /** Counter value by name; 0 for a name never incremented. */
    counter: new DataLoader<string, number>(async (names) => {
      const byName = new Map((await findCountersByNames(db, names)).map((row) => [row.name, row.value]));
      return names.map((name) => byName.get(name) ?? 0);
    }),
  };
}
