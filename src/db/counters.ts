import type { Db } from './database.js';
import { inList } from './list-parameter.js';

/** One SELECT, of one SQL text, for any number of names; names never incremented have no row. */
export async function findCountersByNames(db: Db, names: readonly string[]): Promise<{ name: string; value: number }[]> {
  if (names.length === 0) return [];
  return db.selectFrom('counters').select(['name', 'value']).where(inList(db, 'name', names)).execute();
}

/** A counter's value; 0 for a name never incremented. */
export async function readCounter(db: Db, name: string): Promise<number> {
  const row = await db.selectFrom('counters').select('value').where('name', '=', name).executeTakeFirst();
  return row?.value ?? 0;
}

export async function writeCounter(db: Db, name: string, value: number): Promise<void> {
  await db
    .insertInto('counters')
    .values({ name, value })
    .onConflict((conflict) => conflict.column('name').doUpdateSet({ value }))
    .execute();
}
