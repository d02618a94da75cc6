import type { ColumnType, Generated, Kysely, Selectable } from 'kysely';

// The tables as Kysely sees them. Columns are snake_case; src/schema/ maps rows to GraphQL shapes.

export interface AccountsTable {
  id: number;
  name: string;
  /** Never negative: a CHECK constraint backs the application's own check. */
  balance: number;
}

export interface TransfersTable {
  /** Increases in commit order for any one account, so "newest first" is `id DESC`. */
  id: Generated<number>;
  from_id: number;
  to_id: number;
  amount: number;
  /** ISO-8601 text in UTC, written by the application so that both dialects store the same thing. */
  created_at: ColumnType<string, string, never>;
}

export interface CountersTable {
  name: string;
  value: number;
}

export interface Database {
  accounts: AccountsTable;
  transfers: TransfersTable;
  counters: CountersTable;
}

export type Db = Kysely<Database>;
export type AccountRow = Selectable<AccountsTable>;
export type TransferRow = Selectable<TransfersTable>;
