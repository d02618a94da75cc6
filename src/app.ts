import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { sql } from 'kysely';
import { createYoga, maskError, useExecutionCancellation, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.js';
import { createContext, type AppContext } from './context.js';
import { createDb, type ConnectOptions } from './db/connect.js';
import type { Db } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { isDatabaseUnavailable } from './db/unavailable.js';
import { DatabaseUnavailableError } from './errors.js';
import { graphiqlOptions } from './graphiql.js';
import { useArmorLimits } from './limits/armor.js';
import { useCostLimit } from './limits/cost-limit.js';
import type { Locks } from './locks/lock.js';
import { MemoryLocks } from './locks/memory-lock.js';
import { PostgresLocks } from './locks/postgres-lock.js';
import { schema } from './schema/index.js';

export type App = {
  yoga: YogaServerInstance<Record<string, unknown>, AppContext>;
  db: Db;
  locks: Locks;
  /** Disposes Yoga's plugins and closes the database, once however often called. The HTTP server is the caller's. */
  close(): Promise<void>;
};

export type AppOptions = ConnectOptions & {
  /**
   * Wraps or replaces the locks of the configured mode: tests observe them, or swap in a no-op lock
   * to show that the real one is what keeps the guarantees.
   */
  locks?: (configured: Locks, db: Db) => Locks;
  /** Yoga's logging; tests turn it off. */
  logging?: boolean;
  /** More Yoga plugins, after ours; tests observe requests with them. */
  plugins?: Plugin[];
};

/** Opens and migrates the database and builds the Yoga app. Never listens: see main.ts. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const db = createDb(config.database, options);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const configuredLocks = createLocks(config, db);
  const locks = options.locks?.(configuredLocks, db) ?? configuredLocks;

  const yoga = createYoga<Record<string, unknown>, AppContext>({
    schema,
    context: () => createContext({ db, locks }),
    graphiql: graphiqlOptions,
    // GraphiQL's scripts are served inline from this process: the page works with no internet access.
    renderGraphiQL,
    maxRequestBodySize: config.maxBodyBytes,
    landingPage: false,
    logging: options.logging ?? true,
    maskedErrors: {
      // Unexpected errors stay masked, but a lost database gets a code that says "retry", not "bug".
      maskError: (error, message, isDev) => (isDatabaseUnavailable(error) ? new DatabaseUnavailableError() : maskError(error, message, isDev)),
    },
    plugins: [
      // /health (built in) says the process is alive; /readiness says it can serve: 503 while
      // the database does not answer, so a load balancer sends traffic to other replicas.
      useReadinessCheck({ endpoint: '/readiness', check: async () => void (await sql`SELECT 1`.execute(db)) }),
      // Stops executing an operation whose client has gone, and hands resolvers the aborted signal.
      useExecutionCancellation(),
      ...useArmorLimits(config.limits),
      useCostLimit(config.limits.maxCost),
      ...(options.plugins ?? []),
    ],
  });

  let closing: Promise<void> | undefined;
  return {
    yoga,
    db,
    locks,
    close: () =>
      (closing ??= (async () => {
        await yoga.dispose();
        await db.destroy();
      })()),
  };
}

/** In-process locks guard one process on SQLite; PostgreSQL needs locks that hold across replicas. */
function createLocks(config: Config, db: Db): Locks {
  return config.database.dialect === 'postgres' ? new PostgresLocks(db, config.lockTimeoutMs) : new MemoryLocks(db, config.lockTimeoutMs);
}
