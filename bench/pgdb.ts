// PostgreSQL databases for the postgres and queue modes: a fresh `bench_<random>` database per run,
// created through the admin database and always dropped, even when the bench is interrupted.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where CREATE/DROP DATABASE are sent; BENCH_PG_URL overrides (any database of the server). */
import { tail, type ServerProcess } from './processes.js';

export const PG_ADMIN_URL = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

export type BenchDatabase = { name: string; url: string; drop(): Promise<void> };

const undropped = new Set<string>();

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(): Promise<BenchDatabase> {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  undropped.add(name);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      // FORCE: a server killed at its grace bound may leave a connection behind for a moment.
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      undropped.delete(name);
    },
  };
}

/** For the 'exit' handler (synchronous): drops whatever a failure or a signal left behind. */
export function dropLeftoverDatabasesSync(): void {
  for (const name of undropped) {
    try {
      execFileSync('psql', [PG_ADMIN_URL, '-q', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'ignore' });
      console.error(`Dropped leftover database ${name}`);
    } catch {
      console.error(`Could not drop database ${name}: drop it by hand (DROP DATABASE ${name} WITH (FORCE))`);
    }
  }
  undropped.clear();
}

/** Sanity check before a mode starts, with a readable message when PostgreSQL is not there. */
export async function checkPostgres(): Promise<string> {
  try {
    return await admin(async (client) => String((await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v));
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL} (set BENCH_PG_URL): ${(error as Error).message}`);
  }
}

/** What went wrong in a run, with the end of each server's log. */
export function describeFailure(error: unknown, servers: readonly ServerProcess[]): string {
  const logs = servers.map((server) => `--- ${server.logFile} ---\n${tail(server.logFile)}`).join('\n');
  return `${(error as Error).message}${logs ? `\n${logs}` : ''}`;
}

/** Ends a run: stops its servers (waiting up to `stopMs` each), then drops its database. */
export async function endRun(servers: readonly ServerProcess[], database: BenchDatabase | undefined, stopMs: number): Promise<void> {
  await Promise.all(servers.map((server) => server.stop(stopMs)));
  await database?.drop().catch((error: Error) => console.error(`DROP DATABASE ${database.name} failed: ${error.message}`));
}
