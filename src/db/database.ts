import type { ColumnType, Generated, Kysely, Selectable } from 'kysely';

// The tables as Kysely sees them. Columns are snake_case; src/graphql/schema/ maps rows to GraphQL shapes.

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

export type JobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export type JobItemStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface JobsTable {
  id: Generated<number>;
  status: JobStatus;
  total: number;
  /** Items finished: succeeded + failed. */
  done: Generated<number>;
  failed: Generated<number>;
  cancelled: Generated<number>;
  /** 1 once cancelJob ran: the job ends CANCELLED when its running items have finished. */
  cancel_requested: Generated<number>;
  /** Items that failed ATTEMPTS_EXHAUSTED (counted in done and failed too): the job ends FAILED. */
  exhausted: Generated<number>;
  idempotency_key: string | null;
  items_hash: string;
  created_at: ColumnType<string, string, never>;
  finished_at: string | null;
}

export interface JobItemsTable {
  id: Generated<number>;
  job_id: number;
  index: number;
  status: JobItemStatus;
  from_id: string;
  to_id: string;
  amount: number;
  transfer_id: number | null;
  error_code: string | null;
  error_message: string | null;
  claimed_by: string | null;
  /** Times its application threw unexpectedly; at QUEUE_MAX_ATTEMPTS it fails ATTEMPTS_EXHAUSTED. */
  attempts: Generated<number>;
  /** ISO-8601 text in UTC: not claimed before then (a retry's backoff); null: at once. */
  run_after: string | null;
}

export interface QueueWorkersTable {
  id: string;
  /** ISO-8601 text in UTC; a worker silent for longer than the lease has lost its claims. */
  heartbeat_at: string;
}

export interface Database {
  accounts: AccountsTable;
  transfers: TransfersTable;
  counters: CountersTable;
  jobs: JobsTable;
  job_items: JobItemsTable;
  queue_workers: QueueWorkersTable;
}

export type Db = Kysely<Database>;
export type AccountRow = Selectable<AccountsTable>;
export type TransferRow = Selectable<TransfersTable>;
export type JobRow = Selectable<JobsTable>;
export type JobItemRow = Selectable<JobItemsTable>;
