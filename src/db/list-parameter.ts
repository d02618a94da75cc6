import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Db } from './database.js';
import { isPostgres } from './dialect.js';

/**
 * A list of values bound as ONE parameter: a PostgreSQL array, or a JSON array text for SQLite.
 *
 * `WHERE id IN ($1, $2, …)` has a different SQL text for every length of the list, and every
 * cache keyed by SQL text (our compiled queries, SQLite's prepared statements) then grows with the
 * lengths clients send: 2,400 distinct lengths took a server from 94 MB to 1.3 GB. It also has a
 * parameter per value, and drivers bound those (SQLite: 32,766 per statement). With the list as
 * one parameter, a lookup has one SQL text whatever the length, and no length reaches a driver's
 * limit.
 */
export function listParameter(db: Db, values: readonly (number | string)[]): unknown {
  // node-postgres sends a JS array as an array literal, quoting and escaping each element.
  return isPostgres(db) ? values : JSON.stringify(values);
}

/**
 * `column IN values` with the values as one parameter (see listParameter): PostgreSQL compares with
 * `= ANY($1)`, whose array type it infers from the column; SQLite reads the JSON array with
 * json_each, which hands back JSON numbers as INTEGER and JSON strings as TEXT, as the columns hold
 * them. Both plans look each value up in the column's index.
 */
export function inList(db: Db, column: string, values: readonly (number | string)[]): RawBuilder<SqlBool> {
  const parameter = listParameter(db, values);
  return isPostgres(db) ? sql<SqlBool>`${sql.ref(column)} = ANY(${parameter})` : sql<SqlBool>`${sql.ref(column)} IN (SELECT value FROM json_each(${parameter}))`;
}
