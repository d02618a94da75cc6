import { CompiledQuery, type Compilable } from 'kysely';
import type { Db } from './database.js';

const sqlByName = new WeakMap<Db, Map<string, string>>();

/**
 * Runs a query built with Kysely, but builds and compiles it only the first time it runs on a
 * database; later runs reuse its SQL with new parameters. Building `accounts by ids` with Kysely
 * costs about 11 µs, 3 % of the CPU of a 100-account query (docs/performance.md).
 *
 * Only for queries whose SQL text never changes, whatever the parameters: lists bound as one
 * parameter (src/db/list-parameter.ts), no value written into the SQL. `name` must be a constant of
 * the code, never made of client input: so this cache holds one entry per such query in the code,
 * however many clients ask. Per database, since the SQL is the dialect's.
 *
 * `parameters` must be the parameters `build()` compiles to, in order; the first run on each
 * database checks it, so a mismatch fails loudly in the tests rather than binding wrong values.
 */
export async function executeCompiledOnce<Row>(db: Db, name: string, parameters: readonly unknown[], build: () => Compilable<Row>): Promise<Row[]> {
  let byName = sqlByName.get(db);
  if (!byName) sqlByName.set(db, (byName = new Map()));
  const sql = byName.get(name);
  if (sql !== undefined) return (await db.executeQuery<Row>(CompiledQuery.raw(sql, [...parameters]))).rows;
  const compiled = build().compile();
  if (compiled.parameters.length !== parameters.length || compiled.parameters.some((value, index) => value !== parameters[index])) {
    throw new Error(`executeCompiledOnce(${name}): the parameters given are not the query's: ${JSON.stringify(compiled.parameters)}`);
  }
  byName.set(name, compiled.sql);
  return (await db.executeQuery<Row>(compiled)).rows;
}
