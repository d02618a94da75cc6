// A PostgreSQL database of its own, created through another database of the same server and dropped
// after use. Both the tests (databases.ts) and the bench (bench/pgdb.ts) make theirs here; nothing
// in this file may import vitest, since the bench runs outside it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server of the tests and the bench unless told otherwise: a user allowed to create databases. */
export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

export type PostgresDatabase = {
  name: string;
  /** The new database's URL; its connections carry its name as their application_name. */
  url: string;
  drop(): Promise<void>;
};

/** Runs `work` on a client connected to `serverUrl`, and always disconnects it. */
export async function withClient<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * CREATE DATABASE `<prefix>_<random>` on the server of `serverUrl`. The application_name lets a
 * fault test terminate exactly its own connections. `drop` uses FORCE: a server killed at its grace
 * bound may leave a connection behind for a moment.
 */
export async function createPostgresDatabase(serverUrl: string, prefix: string): Promise<PostgresDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  url.searchParams.set('application_name', name);
  return {
    name,
    url: url.toString(),
    drop: () => withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
