import DataLoader from 'dataloader';
import { parseId } from '../bank/ids.js';
import { findAccountsByIds, findRecentTransfersForAccounts } from '../db/accounts.js';
import { findCountersByNames } from '../db/counters.js';
import type { AccountRow, Db, JobRow, TransferRow } from '../db/database.js';
import { findJobsByIds } from '../db/jobs.js';
import { findTransfersByIds } from '../db/transfers.js';

export type RecentTransfersKey = { accountId: number; last: number };

/**
 * The most keys one statement looks up: the largest list a client may ask for in one field
 * (`accounts(ids:)` takes 1,000), so that any one field still costs one statement. More keys in
 * one operation (aliases, nested lists) are split into statements of this many, so no statement
 * grows with what a client sends: its parameter, its rows and its time stay bounded (and the number
 * of statements by the cost limit, src/graphql/limits/cost-limit.ts).
 */
export const MAX_BATCH_SIZE = 1000;

/**
 * One DataLoader per lookup, made anew for every request (see context.ts): lookups made in the same
 * tick of one operation are coalesced into one SQL statement (per MAX_BATCH_SIZE keys), and no cache
 * outlives the request or is shared between clients. Each batch function returns its results in key order.
 *
 * Each loader is made on first use: most operations need one or two of them, and making all of
 * them for every request measurably slowed `{ hello }`.
 */
export class Loaders {
  #account?: DataLoader<string, AccountRow | null>;
  #recentTransfers?: DataLoader<RecentTransfersKey, TransferRow[], string>;
  #transfer?: DataLoader<number, TransferRow | null>;
  #job?: DataLoader<number, JobRow | null>;
  #counter?: DataLoader<string, number>;

  constructor(private readonly db: Db) {}

  /** Account by GraphQL id; null for an id that names no account. */
  get account() {
    return (this.#account ??= new DataLoader((ids) => loadAccounts(this.db, ids), { maxBatchSize: MAX_BATCH_SIZE }));
  }

  /** An account's newest transfers; keys with different `last` values still share one statement. */
  get recentTransfers() {
    return (this.#recentTransfers ??= new DataLoader((keys) => loadRecentTransfers(this.db, keys), {
      cacheKeyFn: ({ accountId, last }) => `${accountId}:${last}`,
      maxBatchSize: MAX_BATCH_SIZE,
    }));
  }

  /** Transfer by id (job items link to theirs). */
  get transfer() {
    return (this.#transfer ??= new DataLoader(async (ids) => inKeyOrder(ids, await findTransfersByIds(this.db, ids), (row) => row.id), { maxBatchSize: MAX_BATCH_SIZE }));
  }

  /** Job by id; null for an unknown id. */
  get job() {
    return (this.#job ??= new DataLoader(async (ids) => inKeyOrder(ids, await findJobsByIds(this.db, ids), (row) => row.id), { maxBatchSize: MAX_BATCH_SIZE }));
  }

  /** Counter value by name; 0 for a name never incremented. */
  get counter() {
    return (this.#counter ??= new DataLoader(
      async (names) => inKeyOrder(names, await findCountersByNames(this.db, names), (row) => row.name).map((row) => row?.value ?? 0),
      { maxBatchSize: MAX_BATCH_SIZE },
    ));
  }
}

export const createLoaders = (db: Db): Loaders => new Loaders(db);

/** The row of each key, in key order, null where there is none: SQL order is not key order. */
function inKeyOrder<K, R>(keys: readonly K[], rows: R[], keyOf: (row: R) => K): (R | null)[] {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => byKey.get(key) ?? null);
}

async function loadAccounts(db: Db, ids: readonly string[]): Promise<(AccountRow | null)[]> {
  const numericIds = ids.map(parseId);
  const rows = await findAccountsByIds(db, numericIds.filter((id): id is number => id !== null));
  return inKeyOrder(numericIds, rows, (row) => row.id);
}

async function loadRecentTransfers(db: Db, keys: readonly RecentTransfersKey[]): Promise<TransferRow[][]> {
  const last = Math.max(...keys.map((key) => key.last));
  const rows = await findRecentTransfersForAccounts(db, [...new Set(keys.map((key) => key.accountId))], last);
  const byAccount = new Map<number, TransferRow[]>();
  // The rows go out as they are, account_id and all: copying each without it (`{ account_id, ...transfer }`)
  // cost 15 µs per 200 rows, for a column no resolver reads.
  for (const row of rows) {
    const list = byAccount.get(row.account_id);
    if (list) list.push(row);
    else byAccount.set(row.account_id, [row]);
  }
  return keys.map(({ accountId, last }) => (byAccount.get(accountId) ?? []).slice(0, last));
}
