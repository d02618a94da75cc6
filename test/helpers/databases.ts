import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { defaultLockConnections, type DatabaseConfig } from '../../src/config.js';

export type CreatedDatabase = { config: DatabaseConfig; drop(): Promise<void> };

export type TestDatabase = {
  name: 'sqlite' | 'postgres';
  /** A new, empty database of its own; `drop` removes it. */
  create(): Promise<CreatedDatabase>;
};

/** A real SQLite file in a temporary folder, never an in-memory stand-in. */
export const sqlite: TestDatabase = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'graphql-async-test-'));
    return {
      config: { dialect: 'sqlite', filename: join(dir, 'test.sqlite') },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

/**
 * A database of its own on the PostgreSQL server, dropped afterwards. A schema per test would not
 * do: advisory locks are per database. Its connections carry the database's name as their
 * application_name, so a fault test can terminate exactly its own connections.
 */
function postgresAt(serverUrl: string): TestDatabase {
  const admin = async <T>(work: (client: pg.Client) => Promise<T>) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    async create() {
      const name = `test_${randomBytes(6).toString('hex')}`;
      await admin((client) => client.query(`CREATE DATABASE ${name}`));
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      url.searchParams.set('application_name', name);
      return {
        config: { dialect: 'postgres', url: url.toString(), poolSize: 10, lockConnections: defaultLockConnections(10), applicationName: name },
        drop: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
      };
    },
  };
}

const postgresUrl = inject('postgresUrl');

/** Every database the suite runs on; `describe.each(databases)` runs a suite on each. */
export const databases: TestDatabase[] = postgresUrl ? [sqlite, postgresAt(postgresUrl)] : [sqlite];

/** The PostgreSQL database, for tests that only make sense there (several processes on one database). */
export const postgres: TestDatabase | undefined = databases.find((database) => database.name === 'postgres');

/** The URL of a PostgreSQL test database; throws for any other kind. */
export function postgresUrlOf(database: CreatedDatabase): string {
  if (database.config.dialect !== 'postgres') throw new Error(`expected a PostgreSQL database, got ${database.config.dialect}`);
  return database.config.url;
}
