import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

// Frozen once merged: a schema change is a new file.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('balance', 'integer', (col) => col.notNull().check(sql`balance >= 0`))
    .execute();

  await db.schema
    .createTable('transfers')
    // SQLite's AUTOINCREMENT and PostgreSQL's identity both hand out ever-increasing ids.
    .addColumn('id', 'integer', (col) => (isPostgres(db) ? col.primaryKey().generatedAlwaysAsIdentity() : col.primaryKey().autoIncrement()))
    .addColumn('from_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('to_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('amount', 'integer', (col) => col.notNull().check(sql`amount > 0`))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addCheckConstraint('transfers_distinct_accounts', sql`from_id <> to_id`)
    .execute();
  // An account's newest transfers, in or out, are read from these two indexes alone.
  await db.schema.createIndex('transfers_from_id_id').on('transfers').columns(['from_id', 'id']).execute();
  await db.schema.createIndex('transfers_to_id_id').on('transfers').columns(['to_id', 'id']).execute();

  await db.schema
    .createTable('counters')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('value', 'integer', (col) => col.notNull())
    .execute();
}
