import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { defaultLockConnections, type DatabaseConfig } from '../../src/config.js';
import { createPostgresDatabase } from './postgres-database.js';

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
 * do: advisory locks are per database.
 */
function postgresAt(serverUrl: string): TestDatabase {
  return {
    name: 'postgres',
    async create() {
      const { name, url, drop } = await createPostgresDatabase(serverUrl, 'test');
      return { config: { dialect: 'postgres', url, poolSize: 10, lockConnections: defaultLockConnections(10), applicationName: name }, drop };
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
