import { sql, type RawBuilder } from 'kysely';
import { setImmediate } from 'node:timers/promises';
import type { Db, JobItemRow, JobRow } from './database.js';
import { isPostgres } from './dialect.js';
import { inList, listParameter } from './list-parameter.js';
import { inTransaction } from './transaction.js';

// The queue's SQL: one function per operation, the executor first. A job's counters (done, failed,
// cancelled) change only in the transaction that changes its items, so they never disagree.

/** An item of a new job, as submitted: account ids as the client gave them. */
export type NewJobItem = { fromId: string; toId: string; amount: number };

/** One SELECT, of one SQL text, for any number of ids; rows come back in no particular order. */
export async function findJobsByIds(db: Db, ids: readonly number[]): Promise<JobRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('jobs').selectAll().where(inList(db, 'id', ids)).execute();
}

export async function findJobByIdempotencyKey(db: Db, key: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
}

/**
 * Items waiting or running, over the whole database: what QUEUE_MAX_PENDING bounds. Read from the
 * counters of the unfinished jobs (through the jobs_active partial index), not by counting items:
 * its cost grows with the jobs in progress, not with the items ever stored.
 */
export async function countActiveItems(db: Db): Promise<number> {
  const { rows } = await sql<{ active: number | string | null }>`
    SELECT sum(total - done - cancelled) AS active FROM jobs WHERE status IN ('QUEUED', 'RUNNING')
  `.execute(db);
  return Number(rows[0]?.active ?? 0);
}

/** The unfinished jobs, oldest first, up to `limit`: the jobs the workers take turns on. */
export async function findActiveJobIds(db: Db, limit: number): Promise<number[]> {
  // The predicate is written as the jobs_active index's, literally, so that SQLite uses it.
  const { rows } = await sql<{ id: number }>`SELECT id FROM jobs WHERE status IN ('QUEUED', 'RUNNING') ORDER BY id LIMIT ${limit}`.execute(db);
  return rows.map((row) => row.id);
}

/** Stores a job and its items; call it in a transaction, so that both are stored or neither. */
export async function insertJob(
  db: Db,
  { items, idempotencyKey, itemsHash }: { items: readonly NewJobItem[]; idempotencyKey: string | null; itemsHash: string },
): Promise<JobRow> {
  const job = await db
    .insertInto('jobs')
    .values({ status: 'QUEUED', total: items.length, idempotency_key: idempotencyKey, items_hash: itemsHash, created_at: new Date().toISOString(), finished_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
  await insertJobItems(db, job.id, items);
  return job;
}

/**
 * Inserts a job's items in one statement of one SQL text, whatever their number: the items travel
 * as one JSON parameter, read back as rows by the database (json_array_elements, json_each). Rows
 * of `VALUES (…), (…)` would make a SQL text per number of items, each one more entry in SQLite's
 * statement cache, and a parameter per value, which drivers bound.
 */
async function insertJobItems(db: Db, jobId: number, items: readonly NewJobItem[]): Promise<void> {
  const rows = JSON.stringify(items.map((item) => [item.fromId, item.toId, item.amount]));
  await (isPostgres(db)
    ? sql`
        INSERT INTO job_items (job_id, "index", status, from_id, to_id, amount)
        SELECT ${jobId}, item.position - 1, 'PENDING', item.value->>0, item.value->>1, (item.value->>2)::integer
        FROM json_array_elements(${rows}::json) WITH ORDINALITY AS item(value, position)
        ORDER BY item.position
      `
    : sql`
        INSERT INTO job_items (job_id, "index", status, from_id, to_id, amount)
        SELECT ${jobId}, item.key, 'PENDING', json_extract(item.value, '$[0]'), json_extract(item.value, '$[1]'), json_extract(item.value, '$[2]')
        FROM json_each(${rows}) AS item
        ORDER BY item.key
      `
  ).execute(db);
}

/** A job's items by index, `limit` of them from `offset`. */
export async function findJobItems(db: Db, jobId: number, offset: number, limit: number): Promise<JobItemRow[]> {
  return db.selectFrom('job_items').selectAll().where('job_id', '=', jobId).where('index', '>=', offset).orderBy('index').limit(limit).execute();
}

/**
 * Claims up to `limit` pending items of one job, lowest id first, for `workerId`, and commits the
 * claim at once; items waiting out a retry's backoff (`run_after` later than `now`) are left. On
 * PostgreSQL, `FOR UPDATE SKIP LOCKED` hands each pending item to one claimer even when several
 * replicas ask at the same moment; on SQLite, the one writer makes the single statement atomic.
 * Returned in id order.
 */
export async function claimItemsOfJob(db: Db, workerId: string, jobId: number, limit: number, now = new Date()): Promise<JobItemRow[]> {
  const first = sql`SELECT id FROM job_items WHERE ${dueItemsOf(jobId, now)} ORDER BY id LIMIT ${limit}`;
  // On PostgreSQL the ids go over as an array (ARRAY(…)), looked up in the primary key: `id IN
  // (subquery)` was hash-joined against a scan of every item, ~1 ms a claim of 10,000 items.
  const { rows } = await (isPostgres(db)
    ? sql<JobItemRow>`UPDATE job_items SET status = 'RUNNING', claimed_by = ${workerId} WHERE id = ANY (ARRAY(${first} FOR UPDATE SKIP LOCKED)) RETURNING *`
    : sql<JobItemRow>`UPDATE job_items SET status = 'RUNNING', claimed_by = ${workerId} WHERE id IN (${first}) RETURNING *`
  ).execute(db);
  return rows.sort((a, b) => a.id - b.id);
}

/** The condition of a job's items that may be claimed now: pending, and past their backoff if they have one. */
const dueItemsOf = (jobId: number, now: Date): RawBuilder<unknown> =>
  sql`job_id = ${jobId} AND status = 'PENDING' AND (run_after IS NULL OR run_after <= ${now.toISOString()})`;

/** What a claim that prefers items apart from the running ones may read, and when it settles for the first items. */
export type ApartClaim = {
  /** Pending items read at most, by id: the claim's bound, whatever the job's size. */
  window: number;
  /** Fewer items than this apart from the running ones: claim the first items instead, or none. */
  threshold: number;
  /** Whether to claim the first items when too few are apart (else none). */
  orFirst: boolean;
  /** The accounts of `workerId`'s running items, as its process knows them: not read again from the items. */
  ownAccounts: readonly string[];
};

/**
 * Other processes' running items a claim apart reads at most: their workers' batches (replicas ×
 * QUEUE_CONCURRENCY × QUEUE_BATCH_SIZE; 4,000 for ten replicas of four workers at 100), plus claims
 * of dead workers not yet voided. Past it, the accounts left unread are not avoided: it costs only
 * a batch that may wait for locks, as before claims apart.
 */
const OTHERS_RUNNING_READ_AT_MOST = 10_000;

/**
 * Like claimItemsOfJob, on PostgreSQL, but preferring items that name no account of a running item
 * (of any job, claimed by any worker on any replica): a batch of those does not wait for a running
 * batch's account locks, so batches of one job run at once where their accounts are apart. Random
 * transfers among a thousand accounts nearly always meet otherwise, and their batches ran one after
 * the other across every worker and replica. It is a choice of items, not a lock: two claims at one
 * moment may still pick batches that meet, and those take turns on the locks as before.
 *
 * The cost is bounded before the work: the first `window` pending items by id (an index range),
 * and the running items of other processes (their workers' batches, and at most
 * OTHERS_RUNNING_READ_AT_MOST; this process's accounts come as `ownAccounts`, a parameter, so that
 * one replica reads none). If fewer than
 * `threshold` of the window are apart, the claim takes the first `limit` items, as
 * claimItemsOfJob does, in the same statement, or none unless `orFirst`. `apart` says which it
 * did; no items at all says nothing about the job (a claim at the same moment may have taken the
 * chosen ones): ask claimItemsOfJob.
 */
export async function claimItemsApart(
  db: Db,
  workerId: string,
  jobId: number,
  limit: number,
  { window, threshold, orFirst, ownAccounts }: ApartClaim,
  now = new Date(),
): Promise<{ items: JobItemRow[]; apart: boolean }> {
  const due = dueItemsOf(jobId, now);
  // `apart` is materialized once, and its count decides, as a one-time filter, which of the two
  // claims reads any row; each locks its rows with SKIP LOCKED, as claimItemsOfJob does, and each
  // row locked is checked again against the whole of `due` (an item claimed, failed and handed
  // back with a later run_after while this statement ran is not taken early).
  const { rows } = await sql<JobItemRow & { apart: boolean }>`
    WITH others AS MATERIALIZED (
      SELECT from_id, to_id FROM job_items WHERE status = 'RUNNING' AND (claimed_by < ${workerId} OR claimed_by > ${workerId})
      LIMIT ${OTHERS_RUNNING_READ_AT_MOST}
    ),
    busy AS MATERIALIZED (
      SELECT unnest(${listParameter(db, ownAccounts)}::text[]) AS account
      UNION ALL SELECT from_id FROM others UNION ALL SELECT to_id FROM others
    ),
    apart AS MATERIALIZED (
      SELECT id FROM (SELECT id, from_id, to_id FROM job_items WHERE ${due} ORDER BY id LIMIT ${window}) AS candidate
      WHERE from_id NOT IN (SELECT account FROM busy) AND to_id NOT IN (SELECT account FROM busy)
      ORDER BY id LIMIT ${limit}
    ),
    enough AS MATERIALIZED (SELECT count(*) >= ${threshold} AS apart FROM apart),
    chosen_apart AS (
      SELECT id, status FROM job_items WHERE id = ANY (ARRAY(SELECT id FROM apart)) AND ${due} AND (SELECT apart FROM enough)
      FOR UPDATE SKIP LOCKED
    ),
    chosen_first AS (
      SELECT id FROM job_items WHERE ${due} AND ${orFirst} AND NOT (SELECT apart FROM enough)
      ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED
    )
    UPDATE job_items SET status = 'RUNNING', claimed_by = ${workerId}
    WHERE id = ANY (ARRAY(SELECT id FROM chosen_apart WHERE status = 'PENDING' UNION ALL SELECT id FROM chosen_first))
    RETURNING *, (SELECT apart FROM enough) AS apart
  `.execute(db);
  const apart = rows[0]?.apart ?? false;
  return { items: rows.map(({ apart: _, ...item }) => item).sort((a, b) => a.id - b.id), apart };
}

/** QUEUED → RUNNING once its first item is claimed; a no-op for a job in any other state. */
export async function markJobRunning(db: Db, jobId: number): Promise<void> {
  await db.updateTable('jobs').set({ status: 'RUNNING' }).where('id', '=', jobId).where('status', '=', 'QUEUED').execute();
}

/**
 * Inside the transaction that applies items, before their work: those of `itemIds` still this
 * worker's to run, and (on PostgreSQL) their rows locked until commit, so that a recovery cannot
 * hand them to another worker meanwhile. An item left out had its claim voided: the caller must
 * write nothing for it. A statement more per batch: run only once completeItems has found a voided
 * claim, to apply the items still owned.
 */
export async function lockOwnedItems(trx: Db, itemIds: readonly number[], workerId: string): Promise<Set<number>> {
  const rows = await trx
    .updateTable('job_items')
    .set({ claimed_by: workerId })
    .where(inList(trx, 'id', itemIds))
    .where('status', '=', 'RUNNING')
    .where('claimed_by', '=', workerId)
    .returning('id')
    .execute();
  return new Set(rows.map((row) => row.id));
}

/** How an item ended: its transfer, or why not (a refusal, or ATTEMPTS_EXHAUSTED with `exhausted`). */
export type ItemOutcome = { transferId: number } | { error: { code: string; message: string }; exhausted?: boolean };
export type CompletedItem = { item: JobItemRow; outcome: ItemOutcome };

/**
 * Thrown by completeItems when an item is no longer the worker's (its claim was voided since it was
 * claimed: its worker was taken for dead): the caller's transaction must roll back, writing nothing.
 */
export class ClaimsVoidedError extends Error {
  constructor(jobId: number) {
    super(`Items of job ${jobId} are no longer this worker's: their batch is rolled back.`);
  }
}

/**
 * Records the outcomes of items of one job and counts them on the job, in the caller's
 * transaction, in one statement on PostgreSQL and two on SQLite, whatever their number (the
 * outcomes travel as one JSON parameter); `claimed_by` stays, to tell which worker ran each item.
 * Only items still RUNNING for `workerId` are written, and their rows are locked until commit (a
 * recovery waits, then finds them finished); if any is not, throws ClaimsVoidedError and the
 * caller rolls back. So the claim is checked in the statement that records the outcome, not in one
 * of its own before the work. The job ends when done + cancelled reaches total: FAILED if any item
 * ran out of attempts, else CANCELLED if cancelJob ran, else SUCCEEDED.
 */
export async function completeItems(trx: Db, jobId: number, completed: readonly CompletedItem[], workerId: string): Promise<JobRow> {
  // The ids are also matched as a list: PostgreSQL cannot see how few rows the JSON holds, and
  // would otherwise hash-join it against a scan of every item.
  const rows = completed.map(({ item, outcome }) =>
    'error' in outcome
      ? { id: item.id, status: 'FAILED', transfer_id: null, error_code: outcome.error.code, error_message: outcome.error.message, attempts: item.attempts + (outcome.exhausted ? 1 : 0) }
      : { id: item.id, status: 'SUCCEEDED', transfer_id: outcome.transferId, error_code: null, error_message: null, attempts: item.attempts },
  );
  const json = JSON.stringify(rows);
  const failed = completed.filter(({ outcome }) => 'error' in outcome).length;
  const exhausted = completed.filter(({ outcome }) => 'error' in outcome && outcome.exhausted).length;
  const done = completed.length;
  const finishedAt = new Date().toISOString();
  const countOnJob = sql`
    UPDATE jobs SET
      done = done + ${done},
      failed = failed + ${failed},
      exhausted = exhausted + ${exhausted},
      status = CASE WHEN done + ${done} + cancelled >= total THEN ${finalStatus(sql`exhausted + ${exhausted}`)} ELSE status END,
      finished_at = CASE WHEN done + ${done} + cancelled >= total THEN ${finishedAt} ELSE finished_at END
    WHERE id = ${jobId}
  `;
  let job: JobRow | undefined;
  let written = 0;
  if (isPostgres(trx)) {
    // One statement (one round trip inside the batch's locks): the items, then the job's counters.
    const { rows: [result] } = await sql<JobRow & { written: number }>`
      WITH written AS (
        UPDATE job_items AS item SET status = o.status, transfer_id = o.transfer_id, error_code = o.error_code, error_message = o.error_message, attempts = o.attempts
        FROM json_to_recordset(${json}::json) AS o(id integer, status text, transfer_id integer, error_code text, error_message text, attempts integer)
        WHERE item.id = o.id AND ${inList(trx, 'item.id', rows.map((row) => row.id))} AND item.status = 'RUNNING' AND item.claimed_by = ${workerId}
        RETURNING item.id
      )
      ${countOnJob}
      RETURNING *, (SELECT count(*) FROM written)::integer AS written
    `.execute(trx);
    if (!result) throw new JobGoneError(jobId);
    ({ written, ...job } = result);
  } else {
    // The unary + keeps SQLite from driving the join by job_items_running (every item this worker
    // runs, each matched against a scan of the JSON): the items are looked up by id instead.
    ({ rows: { length: written } } = await sql`
      UPDATE job_items SET status = o.status, transfer_id = o.transfer_id, error_code = o.error_code, error_message = o.error_message, attempts = o.attempts
      FROM (
        SELECT value ->> 'id' AS id, value ->> 'status' AS status, value ->> 'transfer_id' AS transfer_id,
               value ->> 'error_code' AS error_code, value ->> 'error_message' AS error_message, value ->> 'attempts' AS attempts
        FROM json_each(${json})
      ) AS o
      WHERE job_items.id = o.id AND +job_items.status = 'RUNNING' AND +job_items.claimed_by = ${workerId}
      RETURNING job_items.id
    `.execute(trx));
    if (written === rows.length) ({ rows: [job] } = await sql<JobRow>`${countOnJob} RETURNING *`.execute(trx));
  }
  if (written !== rows.length) throw new ClaimsVoidedError(jobId);
  if (!job) throw new JobGoneError(jobId);
  return job;
}

/** A bug: a job's row deleted while its items ran (retention deletes only finished jobs). */
class JobGoneError extends Error {
  constructor(jobId: number) {
    super(`Job ${jobId} is gone while its items ran.`);
  }
}

/** The status a job ends in, given its count of exhausted items: FAILED wins over CANCELLED. */
const finalStatus = (exhausted: RawBuilder<unknown>) => sql`(CASE WHEN ${exhausted} > 0 THEN 'FAILED' WHEN cancel_requested = 1 THEN 'CANCELLED' ELSE 'SUCCEEDED' END)`;

/** The code of an item whose application threw unexpectedly on each of its QUEUE_MAX_ATTEMPTS attempts. */
export const ATTEMPTS_EXHAUSTED = 'ATTEMPTS_EXHAUSTED';

/**
 * Fails a claimed item for good, ATTEMPTS_EXHAUSTED (its last attempt counted), and counts it on
 * its job, in one transaction; undefined if the item is no longer this worker's.
 */
export async function exhaustItem(db: Db, item: JobItemRow, workerId: string, message: string): Promise<CompletedItem & { job: JobRow } | undefined> {
  return inTransaction(db, async (trx) => {
    if (!(await lockOwnedItems(trx, [item.id], workerId)).has(item.id)) return undefined;
    const completed: CompletedItem = { item, outcome: { error: { code: ATTEMPTS_EXHAUSTED, message }, exhausted: true } };
    return { ...completed, job: await completeItems(trx, item.job_id, [completed], workerId) };
  });
}

/**
 * Gives claimed items back to the queue (their worker could not run them now, or is stopping);
 * a no-op for those no longer ours. With `runAfter`, the items' application threw: it counts as an
 * attempt, and they are not claimed again before then. If their job was cancelled meanwhile, they
 * are cancelled instead, in the same transaction: a cancelled job never starts an item again.
 * Returns the jobs that ended so (their last running items handed back after a cancelJob).
 */
export async function releaseItems(db: Db, itemIds: readonly number[], workerId: string, { runAfter }: { runAfter?: Date } = {}): Promise<JobRow[]> {
  if (itemIds.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const released = await trx
      .updateTable('job_items')
      .set((eb) => ({
        status: 'PENDING',
        claimed_by: null,
        ...(runAfter ? { attempts: eb('attempts', '+', 1), run_after: runAfter.toISOString() } : {}),
      }))
      .where(inList(trx, 'id', itemIds))
      .where('status', '=', 'RUNNING')
      .where('claimed_by', '=', workerId)
      .returning('job_id')
      .execute();
    return cancelPendingItemsOfCancelledJobs(trx, released.map((item) => item.job_id));
  });
}

/**
 * Runs cancelUnstartedItems again for those of `jobIds` that were cancelled, for items handed back
 * since; returns the jobs that ended so.
 */
async function cancelPendingItemsOfCancelledJobs(trx: Db, jobIds: number[]): Promise<JobRow[]> {
  if (jobIds.length === 0) return [];
  const cancelled = await trx
    .selectFrom('jobs')
    .select('id')
    .where(inList(trx, 'id', [...new Set(jobIds)]))
    .where('cancel_requested', '=', 1)
    .where('status', 'in', ['QUEUED', 'RUNNING'])
    .execute();
  const ended: JobRow[] = [];
  for (const { id } of cancelled) {
    const result = await cancelUnstartedItems(trx, id);
    if (result?.ended) ended.push(result.job);
  }
  return ended;
}

/**
 * Cancels every item of a job not yet started, in the caller's transaction. The job's row is locked first,
 * so a worker finishing an item of it waits, then sees the cancelled count. A finished job, or an
 * unknown id, is returned as it is (undefined for an unknown id). `ended`: this call ended the job
 * (no item of it was running).
 */
export async function cancelUnstartedItems(trx: Db, jobId: number): Promise<{ job: JobRow; ended: boolean } | undefined> {
  const job = await trx
    .updateTable('jobs')
    .set({ cancel_requested: 1 })
    .where('id', '=', jobId)
    .where('status', 'in', ['QUEUED', 'RUNNING'])
    .returningAll()
    .executeTakeFirst();
  if (!job) {
    const [found] = await findJobsByIds(trx, [jobId]);
    return found && { job: found, ended: false };
  }
  const cancelled = await trx
    .updateTable('job_items')
    .set({ status: 'CANCELLED' })
    .where('job_id', '=', jobId)
    .where('status', '=', 'PENDING')
    .executeTakeFirst();
  const count = Number(cancelled.numUpdatedRows);
  const counted = await trx
    .updateTable('jobs')
    .set((eb) => ({
      cancelled: eb('cancelled', '+', count),
      status: sql`CASE WHEN done + cancelled + ${count} >= total THEN ${finalStatus(sql`exhausted`)} ELSE status END`,
      finished_at: sql`CASE WHEN done + cancelled + ${count} >= total THEN ${new Date().toISOString()} ELSE finished_at END`,
    }))
    .where('id', '=', jobId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { job: counted, ended: counted.finished_at !== null };
}

/** Records that a worker is alive; its claims stand while its heartbeat is fresher than the lease. */
export async function heartbeat(db: Db, workerId: string): Promise<void> {
  const now = new Date().toISOString();
  await db
    .insertInto('queue_workers')
    .values({ id: workerId, heartbeat_at: now })
    .onConflict((conflict) => conflict.column('id').doUpdateSet({ heartbeat_at: now }))
    .execute();
}

export async function removeWorker(db: Db, workerId: string): Promise<void> {
  await db.deleteFrom('queue_workers').where('id', '=', workerId).execute();
}

/**
 * Hands back to the queue every running item whose worker is gone: not `workerId` itself, and no
 * heartbeat since `aliveSince` (pass the current time to void every other worker's claims, as a
 * lone SQLite process does at start). Such an item never committed its transfer, since the
 * transfer and the item's status are written in one transaction, so running it again applies it once.
 * Returns how many items it handed back, and the jobs that ended so (cancelled, their last running
 * items handed back).
 */
export async function recoverAbandonedItems(db: Db, workerId: string, aliveSince: Date): Promise<{ recovered: number; ended: JobRow[] }> {
  return inTransaction(db, async (trx) => {
    const alive = trx.selectFrom('queue_workers').select('id').where('heartbeat_at', '>=', aliveSince.toISOString());
    const recovered = await trx
      .updateTable('job_items')
      .set({ status: 'PENDING', claimed_by: null })
      .where('status', '=', 'RUNNING')
      .where((eb) => eb.or([eb('claimed_by', 'is', null), eb.and([eb('claimed_by', '!=', workerId), eb('claimed_by', 'not in', alive)])]))
      .returning('job_id')
      .execute();
    const ended = await cancelPendingItemsOfCancelledJobs(trx, recovered.map((item) => item.job_id));
    return { recovered: recovered.length, ended };
  });
}

/**
 * Deletes jobs that finished before `finishedBefore`, with their items, in statements of at most
 * `batchSize` items, each its own short transaction, so that the workers and submissions never
 * wait long behind it (on SQLite, the one writer is taken for one small batch at a time). Returns
 * the jobs deleted; call again while it returns `maxJobs`.
 */
export async function deleteFinishedJobs(db: Db, { finishedBefore, batchSize, maxJobs }: { finishedBefore: Date; batchSize: number; maxJobs: number }): Promise<number> {
  // `finished_at IS NOT NULL` spelled out as in the jobs_finished_at index's predicate, so that SQLite uses it.
  const { rows: jobs } = await sql<{ id: number }>`
    SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ${finishedBefore.toISOString()} ORDER BY finished_at LIMIT ${maxJobs}
  `.execute(db);
  if (jobs.length === 0) return 0;
  const ids = jobs.map((job) => job.id);
  for (;;) {
    const { numDeletedRows } = await db
      .deleteFrom('job_items')
      .where('id', 'in', (eb) => eb.selectFrom('job_items').select('id').where(inList(db, 'job_id', ids)).limit(batchSize))
      .executeTakeFirst();
    if (numDeletedRows < BigInt(batchSize)) break;
    // better-sqlite3 answers synchronously: let the event loop (and the workers) in between batches.
    await setImmediate();
  }
  await db.deleteFrom('jobs').where(inList(db, 'id', ids)).execute();
  return ids.length;
}
