import { sql, type Kysely, type SqlBool } from 'kysely';

// Frozen once merged: a schema change is a new file.

export async function up(db: Kysely<any>): Promise<void> {
  // How many times the item's application threw unexpectedly, and when it may be tried again
  // (ISO-8601 text in UTC; null: at once). The item fails ATTEMPTS_EXHAUSTED at QUEUE_MAX_ATTEMPTS.
  await db.schema.alterTable('job_items').addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('job_items').addColumn('run_after', 'text').execute();
  // Items that ran out of attempts: a job with any ends FAILED.
  await db.schema.alterTable('jobs').addColumn('exhausted', 'integer', (col) => col.notNull().defaultTo(0)).execute();

  // Workers claim a batch of one job's pending items at a time, turn by turn over the active jobs:
  // pending items by job, in id order.
  await db.schema.dropIndex('job_items_pending').execute();
  await db.schema.createIndex('job_items_pending_by_job').on('job_items').columns(['job_id', 'id']).where(sql.ref('status'), '=', 'PENDING').execute();
  // The jobs not finished: the turn order of the claims, and the active-items count (total − done −
  // cancelled summed over them), read from the few active rows rather than every item.
  await db.schema.createIndex('jobs_active').on('jobs').column('id').where(sql<SqlBool>`status IN ('QUEUED', 'RUNNING')`).execute();
  // Retention deletes the jobs finished longest ago first.
  await db.schema.createIndex('jobs_finished_at').on('jobs').column('finished_at').where(sql<SqlBool>`finished_at IS NOT NULL`).execute();
}
