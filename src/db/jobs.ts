import { sql } from 'kysely';
import type { Db, JobItemRow, JobRow } from './database.js';
import { isPostgres } from './dialect.js';
import { inList } from './list-parameter.js';
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

/** Items waiting or running, over the whole database: what QUEUE_MAX_PENDING bounds. */
export async function countActiveItems(db: Db): Promise<number> {
  const row = await db
    .selectFrom('job_items')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('status', 'in', ['PENDING', 'RUNNING'])
    .executeTakeFirstOrThrow();
  return Number(row.count);
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
 * Claims the oldest pending item for `workerId` and commits the claim at once. On PostgreSQL,
 * `FOR UPDATE SKIP LOCKED` hands each pending item to one claimer even when several replicas ask at
 * the same moment; on SQLite, the one writer makes the single statement atomic.
 */
export async function claimNextItem(db: Db, workerId: string): Promise<JobItemRow | undefined> {
  const skipLocked = isPostgres(db) ? sql` FOR UPDATE SKIP LOCKED` : sql``;
  const { rows } = await sql<JobItemRow>`
    UPDATE job_items SET status = 'RUNNING', claimed_by = ${workerId}
    WHERE id = (SELECT id FROM job_items WHERE status = 'PENDING' ORDER BY id LIMIT 1${skipLocked})
    RETURNING *
  `.execute(db);
  return rows[0];
}

/** QUEUED → RUNNING once its first item is claimed; a no-op for a job in any other state. */
export async function markJobRunning(db: Db, jobId: number): Promise<void> {
  await db.updateTable('jobs').set({ status: 'RUNNING' }).where('id', '=', jobId).where('status', '=', 'QUEUED').execute();
}

/**
 * Inside the transaction that applies an item: true when the item is still this worker's to run,
 * and (on PostgreSQL) locks its row until commit, so that a recovery cannot hand it to another
 * worker meanwhile. False when the claim was voided: then the caller must write nothing.
 */
export async function lockOwnedItem(trx: Db, itemId: number, workerId: string): Promise<boolean> {
  const result = await trx
    .updateTable('job_items')
    .set({ claimed_by: workerId })
    .where('id', '=', itemId)
    .where('status', '=', 'RUNNING')
    .where('claimed_by', '=', workerId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export type ItemOutcome = { transferId: number } | { error: { code: string; message: string } };

/**
 * Records an item's outcome and counts it on its job, in the caller's transaction; `claimed_by`
 * stays, to tell which worker ran the item. The job ends
 * when done + cancelled reaches total: CANCELLED if cancelJob ran, SUCCEEDED otherwise.
 */
export async function completeItem(trx: Db, item: JobItemRow, outcome: ItemOutcome): Promise<JobRow> {
  const failed = 'error' in outcome;
  await trx
    .updateTable('job_items')
    .set(
      failed
        ? { status: 'FAILED', error_code: outcome.error.code, error_message: outcome.error.message }
        : { status: 'SUCCEEDED', transfer_id: outcome.transferId },
    )
    .where('id', '=', item.id)
    .execute();
  const finishedAt = new Date().toISOString();
  return trx
    .updateTable('jobs')
    .set((eb) => ({
      done: eb('done', '+', 1),
      failed: eb('failed', '+', failed ? 1 : 0),
      status: sql`CASE WHEN done + 1 + cancelled >= total THEN (CASE WHEN cancel_requested = 1 THEN 'CANCELLED' ELSE 'SUCCEEDED' END) ELSE status END`,
      finished_at: sql`CASE WHEN done + 1 + cancelled >= total THEN ${finishedAt} ELSE finished_at END`,
    }))
    .where('id', '=', item.job_id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Gives a claimed item back to the queue (its worker could not run it now); a no-op if not ours.
 * If its job was cancelled meanwhile, the item is cancelled instead, in the same transaction: a
 * cancelled job never starts an item again.
 */
export async function releaseItem(db: Db, itemId: number, workerId: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const released = await trx
      .updateTable('job_items')
      .set({ status: 'PENDING', claimed_by: null })
      .where('id', '=', itemId)
      .where('status', '=', 'RUNNING')
      .where('claimed_by', '=', workerId)
      .returning('job_id')
      .executeTakeFirst();
    if (released) await cancelPendingItemsOfCancelledJobs(trx, [released.job_id]);
  });
}

/** Runs cancelUnstartedItems again for those of `jobIds` that were cancelled, for items handed back since. */
async function cancelPendingItemsOfCancelledJobs(trx: Db, jobIds: number[]): Promise<void> {
  if (jobIds.length === 0) return;
  const cancelled = await trx
    .selectFrom('jobs')
    .select('id')
    .where(inList(trx, 'id', [...new Set(jobIds)]))
    .where('cancel_requested', '=', 1)
    .where('status', 'in', ['QUEUED', 'RUNNING'])
    .execute();
  for (const { id } of cancelled) await cancelUnstartedItems(trx, id);
}

/**
 * Cancels every item of a job not yet started, in the caller's transaction. The job's row is locked first,
 * so a worker finishing an item of it waits, then sees the cancelled count. A finished job, or an
 * unknown id, is returned as it is (undefined for an unknown id).
 */
export async function cancelUnstartedItems(trx: Db, jobId: number): Promise<JobRow | undefined> {
  const job = await trx
    .updateTable('jobs')
    .set({ cancel_requested: 1 })
    .where('id', '=', jobId)
    .where('status', 'in', ['QUEUED', 'RUNNING'])
    .returningAll()
    .executeTakeFirst();
  if (!job) return (await findJobsByIds(trx, [jobId]))[0];
  const cancelled = await trx
    .updateTable('job_items')
    .set({ status: 'CANCELLED' })
    .where('job_id', '=', jobId)
    .where('status', '=', 'PENDING')
    .executeTakeFirst();
  const count = Number(cancelled.numUpdatedRows);
  return trx
    .updateTable('jobs')
    .set((eb) => ({
      cancelled: eb('cancelled', '+', count),
      status: sql`CASE WHEN done + cancelled + ${count} >= total THEN 'CANCELLED' ELSE status END`,
      finished_at: sql`CASE WHEN done + cancelled + ${count} >= total THEN ${new Date().toISOString()} ELSE finished_at END`,
    }))
    .where('id', '=', jobId)
    .returningAll()
    .executeTakeFirstOrThrow();
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
 */
export async function recoverAbandonedItems(db: Db, workerId: string, aliveSince: Date): Promise<number> {
  return inTransaction(db, async (trx) => {
    const alive = trx.selectFrom('queue_workers').select('id').where('heartbeat_at', '>=', aliveSince.toISOString());
    const recovered = await trx
      .updateTable('job_items')
      .set({ status: 'PENDING', claimed_by: null })
      .where('status', '=', 'RUNNING')
      .where((eb) => eb.or([eb('claimed_by', 'is', null), eb.and([eb('claimed_by', '!=', workerId), eb('claimed_by', 'not in', alive)])]))
      .returning('job_id')
      .execute();
    await cancelPendingItemsOfCancelledJobs(trx, recovered.map((item) => item.job_id));
    return recovered.length;
  });
}
