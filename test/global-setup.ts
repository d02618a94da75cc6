import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { DEFAULT_POSTGRES_URL } from './helpers/postgres-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL server the suite may create databases on, or null when it is unreachable. */
    postgresUrl: string | null;
  }
}

/**
 * Looks for PostgreSQL once per run. Unreachable: its cases skip with one line saying how to run
 * them, except under CI=true, where the run fails instead.
 */
export default async function setup(project: TestProject): Promise<void> {
  const url = process.env.TEST_DATABASE_URL || DEFAULT_POSTGRES_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    project.provide('postgresUrl', url);
  } catch (error) {
    const where = url.replace(/\/\/[^@/]*@/, '//');
    if (process.env.CI === 'true') {
      throw new Error(`PostgreSQL at ${where} is unreachable, and CI=true requires it: ${(error as Error).message}`);
    }
    console.warn(`\n⚠ PostgreSQL at ${where} is unreachable (${(error as Error).message}): the PostgreSQL cases are skipped. Start PostgreSQL or set TEST_DATABASE_URL to run them.\n`);
    project.provide('postgresUrl', null);
  } finally {
    await client.end().catch(() => undefined);
  }
}
