import { sql } from 'kysely';
import { createYoga, maskError, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.js';
import { createContext, type AppContext } from './graphql/context.js';
import { createDb, type ConnectOptions } from './db/connect.js';
import type { Db } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { isDatabaseBusy, isDatabaseUnavailable } from './db/unavailable.js';
import { DatabaseBusyError, DatabaseUnavailableError } from './graphql/errors.js';
import { graphiqlOptions } from './graphql/graphiql-tabs.js';
import { createRequestListener, type AppRequestListener } from './http/request-listener.js';
import { useArmorLimits } from './graphql/limits/armor.js';
import { useCostLimit } from './graphql/limits/cost-limit.js';
import { useNoIntrospection } from './graphql/limits/introspection.js';
import { useMergeLimit } from './graphql/limits/merge-limit.js';
import { useParseLimits } from './graphql/limits/parse-limits.js';
import { useTextArguments } from './graphql/limits/text-arguments.js';
import type { Locks } from './locks/lock.js';
import { MemoryLocks } from './locks/memory-lock.js';
import { PostgresLocks } from './locks/postgres-lock.js';
import { createAppLogger } from './logger.js';
import { useGraphiQLPage } from './graphql/plugins/graphiql-page.js';
import { useJit } from './graphql/plugins/jit.js';
import { useRequestParseErrors } from './http/request-parse-errors.js';
import { createParseCache, useParseCache } from './graphql/plugins/parse-cache.js';
import { useRequestBodyLimit } from './http/body-limit.js';
import { createResponseSizeLimit } from './graphql/plugins/response-size-limit.js';
import { useValidationCache } from './graphql/plugins/validation-cache.js';
import { MemoryJobEvents, PostgresJobEvents, type JobEvents } from './queue/job-events.js';
import { JobWatchers } from './queue/job-watchers.js';
import { TransferQueue } from './queue/transfer-queue.js';
import { schema } from './graphql/schema/index.js';
import { EventBudget } from './subscriptions/event-budget.js';
import { SubscriptionSlots } from './subscriptions/subscription-slots.js';
import { useSubscriptionSlots } from './graphql/plugins/subscription-slots.js';

export type App = {
  /** The configuration the app was made with; src/http/server.ts reads its HTTP bounds. */
  config: Config;
  yoga: YogaServerInstance<Record<string, unknown>, AppContext>;
  /** What node:http serves: Yoga, with the fast path for JSON POSTs in front (src/http/request-listener.ts). */
  requestListener: AppRequestListener;
  /** What is kept of the documents clients send, for tests and diagnostics. */
  documents: {
    /** Operations compiled by graphql-jit so far (src/graphql/plugins/jit.ts). */
    readonly compiled: number;
    /** The parse cache's estimate of the bytes it holds (src/graphql/plugins/parse-cache.ts). */
    readonly cachedBytes: number;
  };
  db: Db;
  locks: Locks;
  queue: TransferQueue;
  /** The jobProgress streams; tests check that none is left behind. */
  jobWatchers: JobWatchers;
  /** The subscriptions open in this process, against MAX_SUBSCRIPTIONS: for every transport to share. */
  subscriptionSlots: SubscriptionSlots;
  /** Completes every open subscription and stops the queue taking new items; returns at once. */
  beginShutdown(): void;
  /**
   * Lets the queue's running items finish (up to `timeoutMs`, by default SHUTDOWN_TIMEOUT_MS),
   * disposes Yoga's plugins and closes the database, once however often called. The HTTP server is
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
  // Every subscription of the process, whatever its field or transport, counts against one bound
  // and spends from one budget for the CPU of its events.
  const subscriptionSlots = new SubscriptionSlots(config.subscriptions.maxOpen);
  const jobWatchers = new JobWatchers(db, jobEvents, { budget: new EventBudget(config.subscriptions.eventsPerSecond) });
  const deps = { db, locks, queue, jobEvents, queueConfig: config.queue, jobWatchers };
  const parseCache = createParseCache(config.documents.parseCacheMaxBytes);
  const jit = useJit(config.documents, parseCache);

  const responseSizeLimit = createResponseSizeLimit(config.maxResponseBytes);
  const yoga = createYoga<Record<string, unknown>, AppContext>({
    schema,
    context: () => createContext(deps),
    // Served by useGraphiQLPage below, rendered once rather than for every visit.
    graphiql: false,
    // Bounded by useRequestBodyLimit below, without the cost of Yoga's stream wrapper on every request.
    maxRequestBodySize: false,
    // Replaced by useParseCache, bounded in bytes, and useValidationCache, which is cheaper.
    parserAndValidationCache: false,
    landingPage: false,
    logging: createAppLogger(options.logging ?? true),
    maskedErrors: {
      // Never the details of an unexpected error, whatever NODE_ENV says: Yoga's development mode
      // would put its stack, with file paths, in the response.
      isDev: false,
      // Unexpected errors stay masked, but a lost database or a busy pool gets a code that says
      // "retry", not "bug".
      maskError: (error, message) =>
        isDatabaseUnavailable(error) ? new DatabaseUnavailableError() : isDatabaseBusy(error) ? new DatabaseBusyError() : maskError(error, message, false),
    },
    plugins: [
      // GraphiQL's scripts are served inline from this process: the page works with no internet access.
      // The renderer holds 9 MB of script, about 80 MB once loaded: load it on the first visit only.
      useGraphiQLPage(async () => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiqlOptions)),
      // /health (built in) says the process is alive; /readiness says it can serve: 503 while
      // the database does not answer, so a load balancer sends traffic to other replicas.
      useReadinessCheck({ endpoint: '/readiness', check: async () => void (await sql`SELECT 1`.execute(db)) }),
      useRequestBodyLimit(config.maxBodyBytes),
      useRequestParseErrors(),
      // Parsing: refused past the token and nesting limits, and each text parsed once while the
      // cache keeps it.
      useParseLimits(config.limits),
      useParseCache(parseCache),
      // Validation: each document's result kept; the field merging bounded before graphql-js's
      // rules run (they would take seconds on some documents), then graphql-js's and armor's rules.
      useValidationCache(),
      useMergeLimit(config.limits.maxFieldMerges),
      ...useArmorLimits(config.limits),
      ...(config.limits.introspection ? [] : [useNoIntrospection()]),
      // Execution: the cost, from the arguments and variables; string arguments are text (no NUL,
      // no lone surrogate) and at most MAX_STRING_LENGTH long; then the engine.
      useCostLimit(config.limits),
      useTextArguments(config.limits.maxStringLength),
      // Runs repeated operations on graphql-jit, and stops those on graphql-js whose client has gone.
      jit,
      useSubscriptionSlots(subscriptionSlots),
      responseSizeLimit.plugin,
      ...(options.plugins ?? []),
    ],
  });

  // The fast path skips Yoga's HTTP-level hooks (they route other requests: health, GraphiQL, CORS).
  // A plugin passed in that hooks into them must see every request, so it turns the fast path off.
  const extraHttpHooks = (options.plugins ?? []).some((plugin) => HTTP_HOOKS.some((hook) => hook in plugin));
  const requestListener = createRequestListener(yoga, {
    maxBodyBytes: config.maxBodyBytes,
    maxBodyBytesInFlight: config.http.maxBodyBytesInFlight,
    fastPath: config.httpFastPath && !extraHttpHooks,
    boundResult: responseSizeLimit.bound,
  });

  await queue.start();

  let closing: Promise<void> | undefined;
  const beginShutdown = () => {
    jobWatchers.close();
    queue.requestStop();
  };
  return {
    config,
    yoga,
    requestListener,
    documents: {
      get compiled() {
        return jit.compiled;
      },
      get cachedBytes() {
        return parseCache.bytes;
      },
    },
    db,
    locks,
    queue,
    jobWatchers,
    subscriptionSlots,
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
