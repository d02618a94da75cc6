import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

// Frozen once merged: a schema change is a new file.

export async function up(db: Kysely<any>): Promise<void> {
  const identity = isPostgres(db);
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'integer', (col) => (identity ? col.primaryKey().generatedAlwaysAsIdentity() : col.primaryKey().autoIncrement()))
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('total', 'integer', (col) => col.notNull())
    // done = succeeded + failed; cancelled items are counted apart. The job is over when
    // done + cancelled = total.
    .addColumn('done', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('failed', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('cancelled', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('cancel_requested', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('idempotency_key', 'text', (col) => col.unique())
    // A hash of the submitted items, so that a replay with the same key can be told from a mistake.
    .addColumn('items_hash', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('finished_at', 'text')
    .execute();

  await db.schema
    .createTable('job_items')
    .addColumn('id', 'integer', (col) => (identity ? col.primaryKey().generatedAlwaysAsIdentity() : col.primaryKey().autoIncrement()))
    .addColumn('job_id', 'integer', (col) => col.notNull().references('jobs.id'))
    .addColumn('index', 'integer', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    // As submitted: an id that names no account is stored too, and fails with NOT_FOUND when run.
    .addColumn('from_id', 'text', (col) => col.notNull())
    .addColumn('to_id', 'text', (col) => col.notNull())
    .addColumn('amount', 'integer', (col) => col.notNull())
    .addColumn('transfer_id', 'integer', (col) => col.references('transfers.id'))
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    // The worker that runs (or ran) the item; a running item's claim is void once that worker
    // stops heartbeating.
    .addColumn('claimed_by', 'text')
    .addUniqueConstraint('job_items_job_id_index', ['job_id', 'index'])
    .execute();
  // Workers claim the lowest pending id: this index holds only the pending items.
  await db.schema.createIndex('job_items_pending').on('job_items').column('id').where(sql.ref('status'), '=', 'PENDING').execute();
  await db.schema.createIndex('job_items_running').on('job_items').column('claimed_by').where(sql.ref('status'), '=', 'RUNNING').execute();

  await db.schema
    .createTable('queue_workers')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('heartbeat_at', 'text', (col) => col.notNull())
    .execute();
}
