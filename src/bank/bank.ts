import type { JobItemRow, JobRow } from '../db/database.js';
import { increment, type Counter } from './counters.js';
import { runJobItems, type BatchResult } from './job-items.js';
import { cancelJob, submitJob, type JobsDeps } from './jobs.js';
import { transfer, type TransferRequest, type TransferResult } from './transfers.js';

type Signal = { signal?: AbortSignal };

/**
 * The rules of the bank, for the resolvers and the queue's workers: every change of shared state
 * goes through here, under its locks, in its transactions, with its checks. It knows nothing of
 * GraphQL or HTTP, and raises CodedErrors (src/bank/errors.ts, src/locks/errors.ts); reads are not
 * rules and go straight to the database (src/graphql/loaders.ts).
 */
export type Bank = {
  transfer(request: TransferRequest, options?: Signal): Promise<TransferResult>;
  increment(request: { name: string; by: number; workMs: number }, options?: Signal): Promise<Counter>;
  submitJob(request: { items: readonly TransferRequest[]; idempotencyKey?: string | null }, options?: Signal): Promise<JobRow>;
  cancelJob(id: string): Promise<JobRow>;
  /** For the queue's workers (src/queue/worker-pool.ts): a batch of claimed items of one job. */
  runJobItems(items: readonly JobItemRow[], workerId: string, signal: AbortSignal): Promise<BatchResult | undefined>;
};

export function createBank(deps: JobsDeps): Bank {
  return {
    transfer: (request, options) => transfer(deps.locks, request, options),
    increment: (request, options) => increment(deps.locks, request, options),
    submitJob: (request, options) => submitJob(deps, request, options),
    cancelJob: (id) => cancelJob(deps, id),
    runJobItems: (items, workerId, signal) => runJobItems(deps, items, workerId, signal),
  };
}
