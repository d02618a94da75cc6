import { PostgresAdapter, type Kysely } from 'kysely';

/** Whether `db` talks to PostgreSQL; for the few statements whose SQL differs from SQLite's. */
export const isPostgres = (db: Kysely<any>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;
