import type { Plugin } from 'graphql-yoga';
import { createTokenVerifier } from './auth/token-verifier.js';
import { createBank, type Bank } from './bank/bank.js';
import type { ItemsFault } from './bank/job-items.js';
import type { Config } from './config.js';
import { createDb, createReadDb, poolStatsOf, type ConnectOptions } from './db/connect.js';
import type { Db } from './db/database.js';
import { countActiveItems } from './db/jobs.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createObservability, type Observability, type ObservabilityOptions } from './observability/observability.js';
import { readTrustedDocuments } from './graphql/plugins/trusted-documents.js';
import { createGraphQLServer, type GraphQLServer, type Yoga } from './graphql/yoga.js';
import { createCorsPolicy } from './http/cors.js';
import { observeRequests } from './http/observed-listener.js';
import { pluginsInTheWayOfFastPath } from './http/fast-path-plugins.js';
import { createRequestListener, type AppRequestListener } from './http/request-listener.js';
import type { Locks } from './locks/lock.js';
import { takeAdvisoryLocks } from './locks/postgres-advisory-locks.js';
import { TransactionLocks, type LockWaitKind, type TransactionLocksOptions } from './locks/transaction-locks.js';
import { MemoryJobEvents, PostgresJobEvents, type JobEvents } from './queue/job-events.js';
import { JobWatchers } from './queue/job-watchers.js';
import { jobDurationMs, WorkerPool, type WorkerPoolOptions } from './queue/worker-pool.js';
import { EventBudget } from './subscriptions/event-budget.js';
import { SubscriptionSlots } from './subscriptions/subscription-slots.js';
import type { GraphQLWsDeps } from './ws/graphql-ws-server.js';

export type App = {
  /** The configuration the app was made with; src/http/server.ts reads its HTTP bounds. */
  config: Config;
  /** The log, the metrics and the traces (src/observability/). */
  observability: Observability;
  yoga: Yoga;
  /** What node:http serves: Yoga, with the fast path for JSON POSTs in front (src/http/request-listener.ts). */
  requestListener: AppRequestListener;
  /** What graphql-ws serves on the HTTP server's upgrades (src/ws/graphql-ws-server.ts): the same Yoga, documents and tokens. */
  graphqlWs: GraphQLWsDeps;
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
  /** Spans go to this exporter (tests read them in memory) rather than to OTEL_EXPORTER_OTLP_ENDPOINT. */
  spanExporter?: ObservabilityOptions['spanExporter'];
  /**
   * More Yoga plugins, after ours; tests observe requests with them. The HTTP fast path stays on
   * only if each is marked safeForFastPath (src/http/fast-path-plugins.ts).
   */
  plugins?: Plugin[];
  /** A test-only seam: a fault inside the transaction that applies a batch of queue items. */
  itemsFault?: ItemsFault;
  /** The queue's hooks for an observer (metrics): items done, jobs finished; see WorkerPoolOptions. */
  queueHooks?: Pick<WorkerPoolOptions, 'onItemDone' | 'onJobFinished'>;
};

/** Opens and migrates the database, and builds the bank, the queue and the GraphQL server. Never listens: see main.ts. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const observability = await createObservability(config.observability, {
    logger: options.logger ?? (options.logging === false ? createLogger({ level: 'silent' }) : undefined),
    spanExporter: options.spanExporter,
  });
  const { logger, metrics, tracing } = observability;
  // Read before anything opens: a bad file stops the start with a ConfigError.
  const trustedDocuments = config.trustedDocuments.path ? readTrustedDocuments(config.trustedDocuments.path, config.trustedDocuments.only) : undefined;
  const verifyToken = config.auth ? createTokenVerifier(config.auth) : undefined;
  const connectOptions: ConnectOptions = {
    ...options,
    // Each statement is a span of the execution it runs for.
    onQueryDone: tracing && (({ sql, durationMs, failed }) => tracing.recordDone('db.query', durationMs, { 'db.system.name': config.database.dialect === 'postgres' ? 'postgresql' : 'sqlite', 'db.query.text': sql }, failed)),
  };
  const db = createDb(config.database, connectOptions);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  // Reads must not wait for a transaction that waits inside its locks (see createReadDb).
  const readDb = createReadDb(config.database, connectOptions) ?? db;
  metrics?.observePool(() => poolStatsOf(db));
  const onLockWait =
    metrics || tracing
      ? (kind: LockWaitKind, ms: number) => {
          metrics?.lockWait(kind, ms / 1000);
          tracing?.recordDone('lock.wait', ms, { 'lock.kind': kind });
        }
      : undefined;
  const configuredLocks = createLocks(config, db, onLockWait);
  const locks = options.locks?.(configuredLocks, db) ?? configuredLocks;
  const jobEvents = await createJobEvents(config, db);
  // The bank wakes the workers when a job is stored; the workers run each item through the bank.
  let queue: WorkerPool | undefined;
  const queueMetrics = metrics?.observeQueue(() => countActiveItems(readDb));
  // A job ends when its last item does (the workers), or when cancelJob finds none of it running (the bank).
  const onJobFinished = both(queueMetrics?.onJobFinished, options.queueHooks?.onJobFinished);
  const bank = createBank({
    db,
    locks,
    maxPending: config.queue.maxPending,
    workAdded: () => queue?.notifyWorkAdded(),
    jobChanged: (jobId) => jobEvents.publishJobChanged(jobId),
    jobFinished: onJobFinished && ((job) => onJobFinished(job.status, jobDurationMs(job))),
    itemsFault: options.itemsFault,
  });
  queue = new WorkerPool(db, jobEvents, (items, workerId, signal) => bank.runJobItems(items, workerId, signal), {
    ...config.queue,
    logger,
    onItemDone: both(queueMetrics?.onItemDone, options.queueHooks?.onItemDone),
    onJobFinished,
    ownership: config.database.dialect === 'postgres' ? 'shared' : 'exclusive',
    claimApart: config.database.dialect === 'postgres',
  });
  // Every subscription of the process, whatever its field or transport, counts against one bound
  // and spends from one budget for the CPU of its events.
  const subscriptionSlots = new SubscriptionSlots(config.subscriptions.maxOpen);
  const jobWatchers = new JobWatchers(readDb, jobEvents, { budget: new EventBudget(config.subscriptions.eventsPerSecond) });
  let graphql: GraphQLServer;
  try {
    graphql = createGraphQLServer({
      config,
      deps: { db: readDb, bank, jobWatchers },
      readinessDb: readDb,
      subscriptionSlots,
      logger,
      observation: { first: observability.firstPlugin, last: observability.lastPlugins },
      trustedDocuments,
      verifyToken,
      plugins: options.plugins,
    });
  } catch (error) {
    // A trusted document that does not validate: nothing may be left open.
    await jobEvents.close();
    if (readDb !== db) await readDb.destroy();
    await db.destroy();
    await observability.close();
    throw error;
  }
  const { yoga } = graphql;

  // The fast path skips Yoga's HTTP-level hooks: it runs only with plugins known to be safe for it.
  const inTheWay = pluginsInTheWayOfFastPath(graphql.plugins, builtPlugins(yoga));
  if (config.httpFastPath && inTheWay.length > 0) {
    logger.info({ plugins: inTheWay }, 'The HTTP fast path is off: these plugins are not known to be safe with it (src/http/fast-path-plugins.ts).');
  }
  const graphqlListener = createRequestListener(yoga, {
    maxBodyBytes: config.maxBodyBytes,
    maxBodyBytesInFlight: config.http.maxBodyBytesInFlight,
    fastPath: config.httpFastPath && inTheWay.length === 0,
    boundResult: graphql.responseSizeLimit.bound,
  });
  const requestListener = Object.defineProperty(
    observeRequests(graphqlListener, {
      cors: createCorsPolicy(config.http.corsOrigins),
      logger,
      metrics,
      metricsHere: config.observability.metricsPort === undefined,
      tracing,
    }),
    'fastPathAnswers',
    { get: () => graphqlListener.fastPathAnswers },
  ) as AppRequestListener;

  await queue.start();

  let closing: Promise<void> | undefined;
  const workers = queue;
  const beginShutdown = () => {
    jobWatchers.close();
    workers.requestStop();
  };
  return {
    config,
    observability,
    yoga,
    requestListener,
    graphqlWs: {
      yoga,
      config: config.websocket,
      maxMessageBytes: config.maxBodyBytes,
      trustedDocuments,
      verifyToken,
      fitResult: graphql.responseSizeLimit.fit,
      observability: { logger, metrics, tracing },
    },
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
        await observability.close();
      })()),
  };
}

/** Every plugin Yoga runs, its own included: the list it builds, which its types keep protected. */
const builtPlugins = (yoga: Yoga): Plugin[] => (yoga as unknown as { plugins: Plugin[] }).plugins;

/** Calls each hook that is set; undefined when neither is, so that an unset hook costs nothing. */
function both<A extends unknown[]>(first: ((...args: A) => void) | undefined, second: ((...args: A) => void) | undefined): ((...args: A) => void) | undefined {
  if (!first || !second) return first ?? second;
  return (...args) => {
    first(...args);
    second(...args);
  };
}

/**
 * On SQLite, one process and one writer: in-process locks, and one transaction at a time. On
 * PostgreSQL, locks that hold across replicas (advisory locks), and a share of the pool.
 */
function createLocks(config: Config, db: Db, onWait: TransactionLocksOptions['onWait']): Locks {
  const timeoutMs = config.lockTimeoutMs;
  return config.database.dialect === 'postgres'
    ? new TransactionLocks(db, { timeoutMs, connections: config.database.lockConnections, lockAcrossProcesses: takeAdvisoryLocks(timeoutMs), onWait })
    : new TransactionLocks(db, { timeoutMs, connections: 1, onWait });
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
