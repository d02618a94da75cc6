// PostgreSQL databases for the postgres and queue modes: a fresh `bench_<random>` database per run,
// created through the admin database and always dropped, even when the bench is interrupted.
import { execFileSync } from 'node:child_process';
import { createPostgresDatabase, DEFAULT_POSTGRES_URL, withClient, type PostgresDatabase } from '../test/helpers/postgres-database.js';
import { tail, type ServerProcess } from './processes.js';

/** Where CREATE/DROP DATABASE are sent; BENCH_PG_URL overrides (any database of the server). */
export const PG_ADMIN_URL = process.env.BENCH_PG_URL || DEFAULT_POSTGRES_URL;

export type BenchDatabase = PostgresDatabase;

const undropped = new Set<string>();

/** A fresh `bench_<random>` database, remembered until dropped so that the exit handler can drop it. */
export async function createDatabase(): Promise<BenchDatabase> {
  const database = await createPostgresDatabase(PG_ADMIN_URL, 'bench');
  undropped.add(database.name);
  return {
    ...database,
    drop: async () => {
      await database.drop();
      undropped.delete(database.name);
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
    return await withClient(PG_ADMIN_URL, async (client) => String((await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v));
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
