import { sql } from 'kysely';
import { createYoga, maskError, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.js';
import { createContext, type AppContext } from './context.js';
import { createDb, type ConnectOptions } from './db/connect.js';
import type { Db } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { isDatabaseBusy, isDatabaseUnavailable } from './db/unavailable.js';
import { DatabaseBusyError, DatabaseUnavailableError } from './errors.js';
import { graphiqlOptions } from './graphiql.js';
import { createRequestListener, type AppRequestListener } from './http/request-listener.js';
import { useArmorLimits } from './limits/armor.js';
import { useCostLimit } from './limits/cost-limit.js';
import { useTextArguments } from './limits/text-arguments.js';
import type { Locks } from './locks/lock.js';
import { MemoryLocks } from './locks/memory-lock.js';
import { PostgresLocks } from './locks/postgres-lock.js';
import { useJit } from './plugins/jit.js';
import { useRequestBodyLimit } from './plugins/request-body-limit.js';
import { useValidationCache } from './plugins/validation-cache.js';
import { MemoryJobEvents, PostgresJobEvents, type JobEvents } from './queue/job-events.js';
import { TransferQueue } from './queue/transfer-queue.js';
import { schema } from './schema/index.js';

export type App = {
  yoga: YogaServerInstance<Record<string, unknown>, AppContext>;
  /** What node:http serves: Yoga, with the fast path for JSON POSTs in front (src/http/request-listener.ts). */
  requestListener: AppRequestListener;
  db: Db;
  locks: Locks;
  queue: TransferQueue;
  /** Completes every open subscription and stops the queue taking new items; returns at once. */
  beginShutdown(): void;
  /**
   * Lets the queue's running items finish (up to `timeoutMs`, by default SHUTDOWN_TIMEOUT_MS),
   * disposes Yoga's plugins and closes the database, once however often called. The HTTP server is
   * the caller's (http-server.ts).
   */
  close(timeoutMs?: number): Promise<void>;
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
  const jobEvents = await createJobEvents(config, db);
  const queue = new TransferQueue(db, locks, jobEvents, {
    concurrency: config.queue.concurrency,
    itemWorkMs: config.queue.itemWorkMs,
    ownership: config.database.dialect === 'postgres' ? 'shared' : 'exclusive',
  });
  const shutdown = new AbortController();
  const deps = { db, locks, queue, jobEvents, queueConfig: config.queue, shutdownSignal: shutdown.signal };

  const yoga = createYoga<Record<string, unknown>, AppContext>({
    schema,
    context: () => createContext(deps),
    graphiql: graphiqlOptions,
    // GraphiQL's scripts are served inline from this process: the page works with no internet access.
    // The renderer holds 9 MB of script, about 80 MB once loaded: load it on the first visit only.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    // Bounded by useRequestBodyLimit below, without the cost of Yoga's stream wrapper on every request.
    maxRequestBodySize: false,
    // Yoga keeps parsed documents; useValidationCache below keeps validation results, more cheaply.
    parserAndValidationCache: { validationCache: false },
    landingPage: false,
    logging: options.logging ?? true,
    maskedErrors: {
      // Unexpected errors stay masked, but a lost database or a busy pool gets a code that says
      // "retry", not "bug".
      maskError: (error, message, isDev) =>
        isDatabaseUnavailable(error) ? new DatabaseUnavailableError() : isDatabaseBusy(error) ? new DatabaseBusyError() : maskError(error, message, isDev),
    },
    plugins: [
      // /health (built in) says the process is alive; /readiness says it can serve: 503 while
      // the database does not answer, so a load balancer sends traffic to other replicas.
      useReadinessCheck({ endpoint: '/readiness', check: async () => void (await sql`SELECT 1`.execute(db)) }),
      useRequestBodyLimit(config.maxBodyBytes),
      useValidationCache(),
      ...useArmorLimits(config.limits),
      useCostLimit(config.limits.maxCost),
      // String arguments are text (no NUL, no lone surrogate) and at most MAX_STRING_LENGTH long.
      useTextArguments(config.limits.maxStringLength),
      // Runs operations on graphql-jit, and stops those on graphql-js whose client has gone.
      useJit(),
      ...(options.plugins ?? []),
    ],
  });

  // The fast path skips Yoga's HTTP-level hooks (they route other requests: health, GraphiQL, CORS).
  // A plugin passed in that hooks into them must see every request, so it turns the fast path off.
  const extraHttpHooks = (options.plugins ?? []).some((plugin) => HTTP_HOOKS.some((hook) => hook in plugin));
  const requestListener = createRequestListener(yoga, { maxBodyBytes: config.maxBodyBytes, fastPath: config.httpFastPath && !extraHttpHooks });

  await queue.start();

  let closing: Promise<void> | undefined;
  const beginShutdown = () => {
    shutdown.abort();
    queue.requestStop();
  };
  return {
    yoga,
    requestListener,
    db,
    locks,
    queue,
    beginShutdown,
    close: (timeoutMs = config.shutdownTimeoutMs) =>
      (closing ??= (async () => {
        beginShutdown();
        await queue.stop(timeoutMs);
        await yoga.dispose();
        await jobEvents.close();
        await db.destroy();
      })()),
  };
}

const HTTP_HOOKS = ['onRequest', 'onResponse', 'onRequestParse', 'onResultProcess'] as const;

/** In-process locks guard one process on SQLite; PostgreSQL needs locks that hold across replicas. */
function createLocks(config: Config, db: Db): Locks {
  return config.database.dialect === 'postgres'
    ? new PostgresLocks(db, config.lockTimeoutMs, config.database.lockConnections)
    : new MemoryLocks(db, config.lockTimeoutMs);
}

/** One process needs nothing but itself; replicas on PostgreSQL hear each other through LISTEN/NOTIFY. */
async function createJobEvents(config: Config, db: Db): Promise<JobEvents> {
  if (config.database.dialect !== 'postgres') return new MemoryJobEvents();
  const events = new PostgresJobEvents(db, {
    connectionString: config.database.url,
    application_name: config.database.applicationName,
    // A dead LISTEN connection is noticed and re-opened; meanwhile listeners fall back on polling.
    keepAlive: true,
    connectionTimeoutMillis: 3_000,
  });
  await events.start();
  return events;
}
