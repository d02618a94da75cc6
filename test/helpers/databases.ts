import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config.js';

export type TestDatabase = {
  name: string;
  /** A new, empty database; `drop` removes it after the test file. */
  create(): { config: DatabaseConfig; drop(): void };
};

/** A real SQLite file in a temporary folder, never an in-memory stand-in. */
const sqlite: TestDatabase = {
  name: 'sqlite',
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'graphql-async-test-'));
    return {
      config: { dialect: 'sqlite', filename: join(dir, 'test.sqlite') },
      drop: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

/** Every database the suite runs on; `describe.each(databases)` runs a suite on each. */
export const databases: TestDatabase[] = [sqlite];
