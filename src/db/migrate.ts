import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './database.js';
import * as accountsTransfersCounters from './migrations/2026_11_25_001_accounts_transfers_counters.js';
import * as seedAccounts from './migrations/2026_11_25_002_seed_accounts.js';
import * as jobs from './migrations/2026_11_25_003_jobs.js';
import * as queueRetriesRetention from './migrations/2026_12_01_004_queue_retries_retention.js';

// Listed here rather than read from the folder, so that they run the same from tsx, a bundle or a test.
const migrations: Record<string, Migration> = {
  '2026_11_25_001_accounts_transfers_counters': accountsTransfersCounters,
  '2026_11_25_002_seed_accounts': seedAccounts,
  '2026_11_25_003_jobs': jobs,
  '2026_12_01_004_queue_retries_retention': queueRetriesRetention,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the database up to the latest schema; each migration runs once, in its own transaction. */
export async function migrateToLatest(db: Db): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'a migration';
    throw new Error(`Database migration failed at ${failed}`, { cause: error });
  }
}
