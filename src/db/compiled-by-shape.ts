import { CompiledQuery, type Compilable } from 'kysely';
import type { Db } from './database.js';

const sqlByShape = new WeakMap<Db, Map<string, string>>();

/**
 * Runs a query built with Kysely, but builds and compiles it only the first time its shape is
 * seen: the SQL of a lookup depends on its shape (how many ids an IN list holds), its parameters
 * on the rest. Building and compiling `WHERE id IN (100 ids)` visits a node per id, and cost as
 * much as 6 % of the CPU of a 100-account query (docs/performance.md). Per database, since the SQL
 * is the dialect's.
 *
 * `parameters` must be the parameters `build()` compiles to, in order; the first run of each
 * shape checks it, so a mismatch fails loudly in the tests rather than binding wrong values.
 */
export async function executeByShape<Row>(db: Db, shape: string, parameters: readonly unknown[], build: () => Compilable<Row>): Promise<Row[]> {
  let byShape = sqlByShape.get(db);
  if (!byShape) sqlByShape.set(db, (byShape = new Map()));
  const sql = byShape.get(shape);
  if (sql !== undefined) return (await db.executeQuery<Row>(CompiledQuery.raw(sql, [...parameters]))).rows;
  const compiled = build().compile();
  if (compiled.parameters.length !== parameters.length || compiled.parameters.some((value, index) => value !== parameters[index])) {
    throw new Error(`executeByShape(${shape}): the parameters given are not the query's: ${JSON.stringify(compiled.parameters)}`);
  }
  byShape.set(shape, compiled.sql);
  return (await db.executeQuery<Row>(compiled)).rows;
}
