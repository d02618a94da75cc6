// The advisory locks' statement as it is (three statements in one simple query, the ids written
// in, so a SQL text per set of ids) against one parameterized statement (the ids as one array, so
// one SQL text): 500 transactions of 180 random account locks each, on one connection of a fresh
// PostgreSQL database, the two alternating four times. Prints wall time, and CPU of node and of
// the backend (10 ms ticks: ±20 µs), per transaction.
//
//   npx tsx bench/lock-statement-probe.ts
import { sql } from 'kysely';
import { loadConfig } from '../src/config.js';
import { createDb } from '../src/db/connect.js';
import { advisoryLockIds } from '../src/locks/postgres-advisory-locks.js';
import { createPostgresDatabase } from '../test/helpers/postgres-database.js';
import { cpuMsOf } from './cpu-ticks.js';
import { PG_ADMIN_URL } from './pgdb.js';

type Statement = (ids: string[], ms: number) => { execute(db: never): Promise<unknown> };
const literal: Statement = (ids, ms) =>
  sql.raw(`SET LOCAL lock_timeout = '${ms}ms'; SELECT count(pg_advisory_xact_lock(id)) FROM unnest('{${ids.join(',')}}'::bigint[]) AS id; RESET lock_timeout`);
const parameter: Statement = (ids, ms) => sql`
  WITH previous AS MATERIALIZED (SELECT current_setting('lock_timeout') AS value),
  bound AS MATERIALIZED (SELECT set_config('lock_timeout', ${`${ms}ms`}, true) FROM previous),
  locked AS MATERIALIZED (SELECT count(pg_advisory_xact_lock(id)) AS n FROM bound, unnest(${ids}::bigint[]) AS id)
  SELECT set_config('lock_timeout', (SELECT value FROM previous), true) FROM locked`;

const database = await createPostgresDatabase(PG_ADMIN_URL, 'lockprobe');
const db = createDb(loadConfig({ DATABASE_URL: database.url }).database);
try {
  const sets = Array.from({ length: 500 }, () => advisoryLockIds(Array.from({ length: 180 }, () => `account:${1 + Math.floor(Math.random() * 1000)}`)));
  await db.connection().execute(async (conn) => {
    const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn);
    const pid = Number(rows[0]!.pid);
    const run = async (statement: Statement) => {
      const [cpu, startedAt, usage] = [cpuMsOf(pid), performance.now(), process.cpuUsage()];
      for (const ids of sets) {
        await sql`BEGIN`.execute(conn);
        await statement(ids, 5000).execute(conn as never);
        await sql`COMMIT`.execute(conn);
      }
      const node = process.cpuUsage(usage);
      const per = (total: number) => Math.round(total / sets.length);
      return { wallUs: per((performance.now() - startedAt) * 1000), postgresCpuUs: per((cpuMsOf(pid) - cpu) * 1000), nodeCpuUs: per(node.user + node.system) };
    };
    for (let round = 0; round < 4; round += 1) {
      console.log('literal  ', JSON.stringify(await run(literal)));
      console.log('parameter', JSON.stringify(await run(parameter)));
    }
  });
} finally {
  await db.destroy();
  await database.drop();
}
