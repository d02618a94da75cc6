import { createHash } from 'node:crypto';
import type { Db, JobRow } from '../db/database.js';
import { cancelUnstartedItems, countActiveItems, findJobByIdempotencyKey, insertJob } from '../db/jobs.js';
import { inTransaction } from '../db/transaction.js';
import type { Locks } from '../locks/lock.js';
import type { ItemsFault } from './job-items.js';
import { InvalidInputError, NotFoundError, QueueFullError } from './errors.js';
import { parseId } from './ids.js';
import { assertInRange, assertLength } from './input.js';
import { checkTransferInput, type TransferRequest } from './transfers.js';

/** The most items one job may hold. */
export const MAX_ITEMS = 10_000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

export type JobsDeps = {
  db: Db;
  locks: Locks;
  /** Items waiting or running, over the whole database, above which a submission is refused (QUEUE_MAX_PENDING). */
  maxPending: number;
  /** Wakes the workers of every process: a job was stored. */
  workAdded(): void;
  /** Tells the job's watchers, on every process, that it changed. */
  jobChanged(jobId: number): void;
  /** Told when cancelJob ends a job (none of its items was running): the queue's onJobFinished hook. */
  jobFinished?: (job: JobRow) => void;
  /** A test-only seam: a fault inside the transaction that applies a batch of items (src/bank/job-items.ts). */
  itemsFault?: ItemsFault;
};

/**
 * Stores up to MAX_ITEMS transfers as one job, for the workers to apply, and returns it at once.
 * Every item is checked first (as the transfer mutation checks its arguments), and a bad one
 * refuses the whole job, naming it (`items[3].amount`, `details.index`); an unknown account is not
 * checked here: its item fails when it runs. The same `idempotencyKey` with the same items returns
 * the first job; with other items it is BAD_USER_INPUT. QUEUE_FULL when the items waiting or
 * running plus these would pass `maxPending` (a replay never is).
 */
export async function submitJob(
  deps: JobsDeps,
  { items, idempotencyKey }: { items: readonly TransferRequest[]; idempotencyKey?: string | null },
  { signal }: { signal?: AbortSignal } = {},
): Promise<JobRow> {
  assertInRange('items (count)', items.length, 1, MAX_ITEMS);
  items.forEach((item, index) => checkTransferInput(item, { argument: `items[${index}]`, details: { index } }));
  if (idempotencyKey != null) assertLength('idempotencyKey', idempotencyKey, 1, MAX_IDEMPOTENCY_KEY_LENGTH);
  const itemsHash = createHash('sha256').update(JSON.stringify(items.map((item) => [item.fromId, item.toId, item.amount]))).digest('hex');

  // One submission at a time: the bound and the idempotency key are checked and the job stored
  // without another submission slipping in between (on every replica, with PostgreSQL).
  const { job, created } = await deps.locks.withLocks(
    ['queue:submit'],
    async (trx) => {
      const existing = idempotencyKey == null ? undefined : await findJobByIdempotencyKey(trx, idempotencyKey);
      if (existing) {
        if (existing.items_hash !== itemsHash) {
          throw new InvalidInputError(`idempotencyKey "${idempotencyKey}" was already used for job ${existing.id} with different items.`, { argument: 'idempotencyKey' });
        }
        return { job: existing, created: false };
      }
      const active = await countActiveItems(trx);
      if (active + items.length > deps.maxPending) throw new QueueFullError({ active, adding: items.length, max: deps.maxPending });
      return { job: await insertJob(trx, { items, idempotencyKey: idempotencyKey ?? null, itemsHash }), created: true };
    },
    { signal },
  );
  if (created) deps.workAdded();
  return job;
}

/**
 * Cancels every item of the job not yet started, at once: none starts after this returns. Items
 * already running finish and count; the job becomes CANCELLED when they have. A finished job is
 * returned as it is; an id that names no job is NOT_FOUND.
 */
export async function cancelJob(deps: JobsDeps, id: string): Promise<JobRow> {
  const jobId = parseId(id);
  const cancelled = jobId === null ? undefined : await inTransaction(deps.db, (trx) => cancelUnstartedItems(trx, jobId));
  if (!cancelled) throw new NotFoundError('Job', id);
  deps.jobChanged(cancelled.job.id);
  if (cancelled.ended) deps.jobFinished?.(cancelled.job);
  return cancelled.job;
}
