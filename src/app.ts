import type { Plugin } from 'graphql-yoga';
import { createBank, type Bank } from './bank/bank.js';
import type { ItemsFault } from './bank/job-items.js';
import type { Config } from './config.js';
import { createDb, createReadDb, type ConnectOptions } from './db/connect.js';
import type { Db } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createGraphQLServer, type GraphQLServer, type Yoga } from './graphql/yoga.js';
import { createRequestListener, type AppRequestListener } from './http/request-listener.js';
import type { Locks } from './locks/lock.js';
import { takeAdvisoryLocks } from './locks/postgres-advisory-locks.js';
import { TransactionLocks } from './locks/transaction-locks.js';
import { MemoryJobEvents, PostgresJobEvents, type JobEvents } from './queue/job-events.js';
import { JobWatchers } from './queue/job-watchers.js';
import { WorkerPool, type WorkerPoolOptions } from './queue/worker-pool.js';
import { EventBudget } from './subscriptions/event-budget.js';
import { SubscriptionSlots } from './subscriptions/subscription-slots.js';

export type App = {
  /** The configuration the app was made with; src/http/server.ts reads its HTTP bounds. */
  config: Config;
  yoga: Yoga;
  /** What node:http serves: Yoga, with the fast path for JSON POSTs in front (src/http/request-listener.ts). */
  requestListener: AppRequestListener;
  /** What is kept of the documents clients send, for tests and diagnostics. */
  documents: GraphQLServer['documents'];
  /** The database: the writer, through which every change goes. */
  db: Db;
  /** What reads use: a read-only connection of its own on an SQLite file, else `db`. */
  readDb: Db;
  locks: Locks;
  bank: Bank;
  queue: WorkerPool;
  /** The jobProgress streams; tests check that none is left behind. */
  jobWatchers: JobWatchers;
  /** The subscriptions open in this process, against MAX_SUBSCRIPTIONS: for every transport to share. */
  subscriptionSlots: SubscriptionSlots;
  /** Completes every open subscription and stops the queue taking new items; returns at once. */
  beginShutdown(): void;
  /**
   * Lets the queue's running items finish (up to `timeoutMs`, by default SHUTDOWN_TIMEOUT_MS; then
   * they are aborted and handed back), disposes Yoga's plugins and closes the database, once
   * however often called. The HTTP server is
   * the caller's (src/http/server.ts).
   */
  close(timeoutMs?: number): Promise<void>;
};

export type AppOptions = ConnectOptions & {
  /**
   * Wraps or replaces the locks of the configured mode: tests observe them, or swap in a no-op lock
   * to show that the real one is what keeps the guarantees.
   */
  locks?: (configured: Locks, db: Db) => Locks;
  /** Where the app logs; by default a pino logger at LOG_LEVEL on stdout. */
  logger?: Logger;
  /** false: nothing logged (tests that do not read the log). */
  logging?: boolean;
  /** More Yoga plugins, after ours; tests observe requests with them. */
  plugins?: Plugin[];
  /** A test-only seam: a fault inside the transaction that applies a batch of queue items. */
  itemsFault?: ItemsFault;
  /** The queue's hooks for an observer (metrics): items done, jobs finished; see WorkerPoolOptions. */
  queueHooks?: Pick<WorkerPoolOptions, 'onItemDone' | 'onJobFinished'>;
};

/** Opens and migrates the database, and builds the bank, the queue and the GraphQL server. Never listens: see main.ts. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ level: options.logging === false ? 'silent' : config.observability.logLevel });
  const db = createDb(config.database, options);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  // Reads must not wait for a transaction that waits inside its locks (see createReadDb).
  const readDb = createReadDb(config.database, options) ?? db;
  const configuredLocks = createLocks(config, db);
  const locks = options.locks?.(configuredLocks, db) ?? configuredLocks;
  const jobEvents = await createJobEvents(config, db);
  // The bank wakes the workers when a job is stored; the workers run each item through the bank.
  let queue: WorkerPool | undefined;
  const bank = createBank({
    db,
    locks,
    maxPending: config.queue.maxPending,
    workAdded: () => queue?.notifyWorkAdded(),
    jobChanged: (jobId) => jobEvents.publishJobChanged(jobId),
    itemsFault: options.itemsFault,
  });
  queue = new WorkerPool(db, jobEvents, (items, workerId, signal) => bank.runJobItems(items, workerId, signal), {
    ...config.queue,
    ...options.queueHooks,
    ownership: config.database.dialect === 'postgres' ? 'shared' : 'exclusive',
  });
  // Every subscription of the process, whatever its field or transport, counts against one bound
  // and spends from one budget for the CPU of its events.
  const subscriptionSlots = new SubscriptionSlots(config.subscriptions.maxOpen);
  const jobWatchers = new JobWatchers(readDb, jobEvents, { budget: new EventBudget(config.subscriptions.eventsPerSecond) });
  const graphql = createGraphQLServer({
    config,
    deps: { db: readDb, bank, jobWatchers },
    readinessDb: readDb,
    subscriptionSlots,
    logger,
    plugins: options.plugins,
  });
  const { yoga } = graphql;

  // The fast path skips Yoga's HTTP-level hooks (they route other requests: health, GraphiQL, CORS).
  // A plugin passed in that hooks into them must see every request, so it turns the fast path off.
  const extraHttpHooks = (options.plugins ?? []).some((plugin) => HTTP_HOOKS.some((hook) => hook in plugin));
  const requestListener = createRequestListener(yoga, {
    maxBodyBytes: config.maxBodyBytes,
    maxBodyBytesInFlight: config.http.maxBodyBytesInFlight,
    fastPath: config.httpFastPath && !extraHttpHooks,
    boundResult: graphql.responseSizeLimit.bound,
  });

  await queue.start();

  let closing: Promise<void> | undefined;
  const workers = queue;
  const beginShutdown = () => {
    jobWatchers.close();
    workers.requestStop();
  };
  return {
    config,
    yoga,
    requestListener,
    documents: graphql.documents,
    db,
    readDb,
    locks,
    bank,
    queue,
    jobWatchers,
    subscriptionSlots,
    beginShutdown,
    close: (timeoutMs = config.shutdownTimeoutMs) =>
      (closing ??= (async () => {
        beginShutdown();
        await workers.stop(timeoutMs);
        await yoga.dispose();
        await jobEvents.close();
        if (readDb !== db) await readDb.destroy();
        await db.destroy();
      })()),
  };
}

const HTTP_HOOKS = ['onRequest', 'onResponse', 'onRequestParse', 'onResultProcess'] as const;

/**
 * On SQLite, one process and one writer: in-process locks, and one transaction at a time. On
 * PostgreSQL, locks that hold across replicas (advisory locks), and a share of the pool.
 */
function createLocks(config: Config, db: Db): Locks {
  const timeoutMs = config.lockTimeoutMs;
  return config.database.dialect === 'postgres'
    ? new TransactionLocks(db, { timeoutMs, connections: config.database.lockConnections, lockAcrossProcesses: takeAdvisoryLocks(timeoutMs) })
    : new TransactionLocks(db, { timeoutMs, connections: 1 });
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
