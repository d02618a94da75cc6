import { sql, type Kysely } from 'kysely';

const dialects = new WeakMap<Kysely<any>, boolean>();

/**
 * Whether `db` talks to PostgreSQL, for the few statements whose SQL differs from SQLite's. Read
 * through Kysely's public API, from what a bound parameter compiles to on this database (`$1` on
 * PostgreSQL, `?` on SQLite): every transaction is a Kysely instance of its own, the migrator's
 * included, and Kysely keeps the dialect it was made with to itself. Once per instance.
 */
export function isPostgres(db: Kysely<any>): boolean {
  let postgres = dialects.get(db);
  if (postgres === undefined) dialects.set(db, (postgres = sql`${0}`.compile(db).sql === '$1'));
  return postgres;
}
