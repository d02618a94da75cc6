import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DatabaseTarget } from './db/connect.js';

/**
 * Where the data lives (src/db/connect.ts), and on PostgreSQL the pool's share for lock holders:
 * DATABASE_POOL_SIZE, the URL's application_name (or DEFAULT_APPLICATION_NAME), and of those
 * connections how many lock-holding work (increment, transfer, submitTransfers, the queue's
 * workers) may hold at once (DATABASE_LOCK_CONNECTIONS); the rest stay for reads and /readiness.
 */
export type DatabaseConfig = Extract<DatabaseTarget, { dialect: 'sqlite' }> | (Extract<DatabaseTarget, { dialect: 'postgres' }> & { lockConnections: number });

/** The query limits of src/graphql/limits/: each refused with QUERY_TOO_COMPLEX when passed, but maxStringLength (BAD_USER_INPUT). */
export type LimitsConfig = {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  /** Brackets (`{`, `[`, `(`) open at once, counted while parsing (src/graphql/limits/parse-limits.ts). */
  maxNesting: number;
  maxDirectives: number;
  maxCost: number;
  /** Fields merged and pairs compared to merge same-named fields (src/graphql/limits/merge-limit.ts). */
  maxFieldMerges: number;
  /** The part of the cost that introspection may take (src/graphql/limits/cost-limit.ts). */
  maxIntrospectionCost: number;
  /** Whether `__schema` and `__type` are served at all; `__typename` always is. */
  introspection: boolean;
  /** The longest string argument, in characters (code points), literal or variable. */
  maxStringLength: number;
};

/** What the server keeps of the documents it has seen, and when it compiles them. */
export type DocumentsConfig = {
  /** The parse cache's bound: documents and all that is kept per document (src/graphql/plugins/parse-cache.ts). */
  parseCacheMaxBytes: number;
  /** Runs of an operation on graphql-js before graphql-jit compiles it; 0 compiles at first sight. */
  jitAfterRuns: number;
  /** Operations with more fields than this, fragments expanded, are never compiled. */
  jitMaxFields: number;
};

export type Config = Readonly<{
  port: number;
  host: string;
  database: DatabaseConfig;
  /** Request bodies above this many bytes are refused with 413 before they are buffered. */
  maxBodyBytes: number;
  /** A result (or subscription event) whose JSON is larger than this is replaced by RESPONSE_TOO_LARGE. */
  maxResponseBytes: number;
  http: Readonly<HttpConfig>;
  /**
   * Whether a POST of application/json to /graphql takes the HTTP fast path
   * (src/http/request-listener.ts) rather than Yoga's Fetch-API adapter. Same answers; off is for
   * comparing the two and for ruling the fast path out when something looks wrong.
   */
  httpFastPath: boolean;
  /** How long a mutation waits for its locks before failing with LOCK_TIMEOUT. */
  lockTimeoutMs: number;
  /** How long a shutdown waits for in-flight requests before aborting them. */
  shutdownTimeoutMs: number;
  limits: Readonly<LimitsConfig>;
  documents: Readonly<DocumentsConfig>;
  queue: Readonly<QueueConfig>;
  subscriptions: Readonly<SubscriptionsConfig>;
  observability: Readonly<ObservabilityConfig>;
  websocket: Readonly<WebSocketConfig>;
  trustedDocuments: Readonly<TrustedDocumentsConfig>;
  /** undefined: no authentication (AUTH_JWKS_URL and AUTH_JWT_SECRET unset), every operation is public. */
  auth: Readonly<AuthConfig> | undefined;
  /** Which protocol GraphiQL runs subscriptions over (GRAPHIQL_SUBSCRIPTIONS): graphql-ws or Server-Sent Events. */
  graphiqlSubscriptions: 'ws' | 'sse';
}>;

/** graphql-ws on /graphql (src/ws/): what one WebSocket may hold and how long it may stay silent. */
export type WebSocketConfig = {
  /** How often the server pings each socket; one that has not answered by the next ping is dropped. */
  keepAliveMs: number;
  /** A socket that has not sent connection_init this long after opening is closed (4408). */
  connectionInitTimeoutMs: number;
  /** Operations running at once on one socket, subscriptions included; the next gets TOO_MANY_OPERATIONS. */
  maxOperationsPerConnection: number;
};

/** The operations a client may run by id (src/graphql/plugins/trusted-documents.ts). */
export type TrustedDocumentsConfig = {
  /** A persisted-documents.json of graphql-codegen's client preset ({ hash: document }); undefined: none. */
  path: string | undefined;
  /** true: only those documents run; any other text is refused with PERSISTED_QUERY_ONLY. */
  only: boolean;
};

/** Bearer JWTs (src/auth/): who may run mutations, and reads when `requiredForReads`. */
export type AuthConfig = {
  /** Where the public keys are (AUTH_JWKS_URL); or */
  jwksUrl: string | undefined;
  /** the shared HS256 secret (AUTH_JWT_SECRET), as bytes. */
  secret: Uint8Array | undefined;
  /** The `aud` a token must carry (AUTH_AUDIENCE); undefined: not checked. */
  audience: string | undefined;
  /** The `iss` a token must carry (AUTH_ISSUER); undefined: not checked. */
  issuer: string | undefined;
  /** Whether queries and subscriptions need a token too (AUTH_REQUIRED_FOR_READS). */
  requiredForReads: boolean;
};

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the server says about itself: logs, metrics, traces (src/observability/). */
export type ObservabilityConfig = {
  /** The least severe log lines written (LOG_LEVEL). */
  logLevel: LogLevel;
  /** Whether GET /metrics serves Prometheus metrics (METRICS). */
  metrics: boolean;
  /** Serves /metrics on this port rather than the API's, so that it need not be public (METRICS_PORT); undefined: the API's. */
  metricsPort: number | undefined;
  /** Where spans are sent over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT); undefined: no tracing, nothing loaded. */
  otlpEndpoint: string | undefined;
  /** The service's name in the traces (OTEL_SERVICE_NAME). */
  serviceName: string;
};

/** Bounds on what one process's HTTP server holds for its clients (src/http/server.ts, src/http/). */
export type HttpConfig = {
  /** Open connections above which new ones are closed at once (node:http's maxConnections). */
  maxConnections: number;
  /** Requests a client may send on one connection ahead of their answers; past it the connection is closed. */
  maxPipelinedRequests: number;
  /**
   * Bytes of request bodies larger than SMALL_BODY_BYTES being received at once; a body that would
   * pass it is refused with 503 SERVER_BUSY at once, and not kept.
   */
  maxBodyBytesInFlight: number;
  /** A request's headers must have arrived this long after its first byte (else 408). */
  headersTimeoutMs: number;
  /** A whole request, body included, must have arrived this long after its first byte (else 408). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** A connection whose response bytes wait this long for a client that does not read is closed. */
  sendTimeoutMs: number;
  /** Response bytes queued for clients that read slowly, over all connections, above which the largest queues are dropped. */
  maxQueuedResponseBytes: number;
  /**
   * Origins whose web pages may call the API from a browser (CORS_ORIGINS), credentials included;
   * none by default: same-origin pages and clients that are not browsers are not concerned.
   */
  corsOrigins: readonly string[];
};

export type QueueConfig = {
  /** Batches of items this process runs at once; 0: an API-only replica that runs no workers. */
  concurrency: number;
  /** Items a worker claims and applies in one transaction at most. */
  batchSize: number;
  /** Attempts an item whose application throws unexpectedly gets; then it fails ATTEMPTS_EXHAUSTED. */
  maxAttempts: number;
  /** The wait before an item's second attempt; it doubles for each one after. */
  retryBaseMs: number;
  /** How long finished jobs and their items are kept before they are deleted. */
  retentionMs: number;
  /** Items waiting or running over the whole database above which submitTransfers is refused. */
  maxPending: number;
  /** Simulated work per item, outside its locks and transaction. */
  itemWorkMs: number;
};

export type SubscriptionsConfig = {
  /** Subscriptions open at once in this process, over every transport; the next is refused with TOO_MANY_SUBSCRIPTIONS. */
  maxOpen: number;
  /**
   * Events this process sends to all its subscribers in a second, an event that can load many
   * objects counting as several (event-weight.ts): past it, events wait their turn, so that each
   * subscriber gets them less often and the CPU they take stays bounded.
   */
  eventsPerSecond: number;
};

/** A configuration mistake: main.ts prints the message alone and exits non-zero. */
export class ConfigError extends Error {}

export const DEFAULT_SQLITE_FILE = 'data/server.sqlite';
export const DEFAULT_APPLICATION_NAME = 'graphql-async-server';

export const defaultLimits: LimitsConfig = {
  maxDepth: 12,
  maxAliases: 100,
  maxTokens: 20_000,
  // GraphiQL's introspection query nests 13 deep, a query at the depth limit about 13, its arguments a few more.
  maxNesting: 64,
  maxDirectives: 50,
  maxCost: 50_000,
  // About 50 ms of graphql-js's validation at worst on a 2-core machine; a query written by hand
  // makes about as many merges as it has fields (GraphiQL's introspection query: 484).
  maxFieldMerges: 20_000,
  // A few times GraphiQL's own introspection query, which costs about 400 on this schema
  // (test/introspection.test.ts checks that it passes with room to spare, and that 4 of it do not).
  maxIntrospectionCost: 1_500,
  introspection: true,
  // Every legitimate argument fits with room to spare: counter names take up to 100 characters,
  // idempotency keys 200, ids 10 digits. A million-character name echoed by 100 aliases is not one.
  maxStringLength: 1_000,
};

export const defaultDocuments: DocumentsConfig = {
  parseCacheMaxBytes: 32_000_000,
  // As Mercurius' `jit: 1`: a document's second run is compiled, its first runs on graphql-js.
  jitAfterRuns: 1,
  jitMaxFields: 200,
};

const DAY_MS = 86_400_000;

export const defaultQueue: QueueConfig = { concurrency: 4, batchSize: 100, maxPending: 100_000, itemWorkMs: 0, maxAttempts: 5, retryBaseMs: 1_000, retentionMs: 7 * DAY_MS };

export const defaultSubscriptions: SubscriptionsConfig = { maxOpen: 5_000, eventsPerSecond: 1_000 };

export const defaultWebSocket: WebSocketConfig = { keepAliveMs: 12_000, connectionInitTimeoutMs: 3_000, maxOperationsPerConnection: 100 };

export const defaultTrustedDocuments: TrustedDocumentsConfig = { path: undefined, only: false };

export const DEFAULT_MAX_BODY_BYTES = 1_000_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 10_000_000;

export const defaultHttp: HttpConfig = {
  maxConnections: defaultMaxConnections(),
  maxPipelinedRequests: 16,
  maxBodyBytesInFlight: 100_000_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  sendTimeoutMs: 30_000,
  maxQueuedResponseBytes: 200_000_000,
  corsOrigins: [],
};

type Env = Record<string, string | undefined>;

/** Reads the environment into one frozen, validated Config; throws ConfigError on a bad value. */
export function loadConfig(env: Env = process.env): Config {
  const maxBodyBytes = readInt(env, 'MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1_024, 1_000_000_000);
  return Object.freeze({
    port: readInt(env, 'PORT', 4000, 0, 65_535),
    host: env.HOST?.trim() || '127.0.0.1',
    database: parseDatabaseUrl(env.DATABASE_URL, readPool(env)),
    maxBodyBytes,
    maxResponseBytes: readInt(env, 'MAX_RESPONSE_BYTES', DEFAULT_MAX_RESPONSE_BYTES, 1_024, 1_000_000_000),
    http: readHttpConfig(env, maxBodyBytes),
    httpFastPath: readBoolean(env, 'HTTP_FAST_PATH', true),
    lockTimeoutMs: readInt(env, 'LOCK_TIMEOUT_MS', 10_000, 1, 3_600_000),
    shutdownTimeoutMs: readInt(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
    limits: Object.freeze({
      maxDepth: readInt(env, 'MAX_DEPTH', defaultLimits.maxDepth, 1, 1_000),
      maxAliases: readInt(env, 'MAX_ALIASES', defaultLimits.maxAliases, 0, 100_000),
      maxTokens: readInt(env, 'MAX_TOKENS', defaultLimits.maxTokens, 1, 10_000_000),
      // Above a few thousand, graphql-js's recursive parser and validation overflow the stack.
      maxNesting: readInt(env, 'MAX_NESTING', defaultLimits.maxNesting, 1, 1_000),
      maxDirectives: readInt(env, 'MAX_DIRECTIVES', defaultLimits.maxDirectives, 0, 100_000),
      maxCost: readInt(env, 'MAX_COST', defaultLimits.maxCost, 1, 1_000_000_000),
      maxFieldMerges: readInt(env, 'MAX_FIELD_MERGES', defaultLimits.maxFieldMerges, 1, 1_000_000_000),
      maxIntrospectionCost: readInt(env, 'MAX_INTROSPECTION_COST', defaultLimits.maxIntrospectionCost, 1, 1_000_000_000),
      introspection: readBoolean(env, 'INTROSPECTION', defaultLimits.introspection),
      maxStringLength: readInt(env, 'MAX_STRING_LENGTH', defaultLimits.maxStringLength, 1, 1_000_000_000),
    }),
    documents: Object.freeze({
      parseCacheMaxBytes: readInt(env, 'PARSE_CACHE_MAX_BYTES', defaultDocuments.parseCacheMaxBytes, 1_000_000, 100_000_000_000),
      jitAfterRuns: readInt(env, 'JIT_AFTER_RUNS', defaultDocuments.jitAfterRuns, 0, 1_000_000),
      jitMaxFields: readInt(env, 'JIT_MAX_FIELDS', defaultDocuments.jitMaxFields, 0, 100_000),
    }),
    queue: Object.freeze({
      concurrency: readInt(env, 'QUEUE_CONCURRENCY', defaultQueue.concurrency, 0, 256),
      maxPending: readInt(env, 'QUEUE_MAX_PENDING', defaultQueue.maxPending, 1, 100_000_000),
      itemWorkMs: readInt(env, 'QUEUE_ITEM_WORK_MS', defaultQueue.itemWorkMs, 0, 60_000),
      batchSize: readInt(env, 'QUEUE_BATCH_SIZE', defaultQueue.batchSize, 1, 1_000),
      maxAttempts: readInt(env, 'QUEUE_MAX_ATTEMPTS', defaultQueue.maxAttempts, 1, 100),
      retryBaseMs: readInt(env, 'QUEUE_RETRY_BASE_MS', defaultQueue.retryBaseMs, 1, 3_600_000),
      retentionMs: readDuration(env, 'QUEUE_RETENTION', defaultQueue.retentionMs, 1_000, 3_650 * DAY_MS),
    }),
    subscriptions: Object.freeze({
      maxOpen: readInt(env, 'MAX_SUBSCRIPTIONS', defaultSubscriptions.maxOpen, 1, 1_000_000),
      eventsPerSecond: readInt(env, 'SUBSCRIPTION_EVENTS_PER_SECOND', defaultSubscriptions.eventsPerSecond, 1, 10_000_000),
    }),
    observability: Object.freeze(readObservabilityConfig(env)),
    websocket: Object.freeze({
      keepAliveMs: readInt(env, 'WS_KEEP_ALIVE_MS', defaultWebSocket.keepAliveMs, 100, 3_600_000),
      connectionInitTimeoutMs: readInt(env, 'WS_CONNECTION_INIT_TIMEOUT_MS', defaultWebSocket.connectionInitTimeoutMs, 100, 3_600_000),
      maxOperationsPerConnection: readInt(env, 'WS_MAX_OPERATIONS_PER_CONNECTION', defaultWebSocket.maxOperationsPerConnection, 1, 100_000),
    }),
    trustedDocuments: Object.freeze(readTrustedDocumentsConfig(env)),
    auth: readAuthConfig(env),
    graphiqlSubscriptions: readGraphiqlSubscriptions(env),
  });
}

function readTrustedDocumentsConfig(env: Env): TrustedDocumentsConfig {
  const path = env.TRUSTED_DOCUMENTS?.trim() || undefined;
  const only = readBoolean(env, 'TRUSTED_DOCUMENTS_ONLY', false);
  if (only && !path) throw new ConfigError('TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS, the path of a persisted-documents.json.');
  return { path: path && resolve(path), only };
}

/** The shortest HS256 secret accepted: as many bytes as the hash (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32;

function readAuthConfig(env: Env): Readonly<AuthConfig> | undefined {
  const jwksUrl = env.AUTH_JWKS_URL?.trim() || undefined;
  const secret = env.AUTH_JWT_SECRET || undefined;
  const audience = env.AUTH_AUDIENCE?.trim() || undefined;
  const issuer = env.AUTH_ISSUER?.trim() || undefined;
  const requiredForReads = readBoolean(env, 'AUTH_REQUIRED_FOR_READS', false);
  if (!jwksUrl && !secret) {
    if (audience || issuer || requiredForReads) throw new ConfigError('AUTH_AUDIENCE, AUTH_ISSUER and AUTH_REQUIRED_FOR_READS need AUTH_JWKS_URL or AUTH_JWT_SECRET.');
    return undefined;
  }
  if (jwksUrl && secret) throw new ConfigError('Set AUTH_JWKS_URL or AUTH_JWT_SECRET, not both.');
  if (jwksUrl && !/^https?:\/\//.test(jwksUrl)) throw new ConfigError(`AUTH_JWKS_URL must be an http(s) URL; got "${jwksUrl}".`);
  if (jwksUrl && !URL.canParse(jwksUrl)) throw new ConfigError(`AUTH_JWKS_URL is not a valid URL: "${jwksUrl}".`);
  const secretBytes = secret === undefined ? undefined : new TextEncoder().encode(secret);
  if (secretBytes && secretBytes.length < MIN_SECRET_BYTES) throw new ConfigError(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes long for HS256.`);
  return Object.freeze({ jwksUrl, secret: secretBytes, audience, issuer, requiredForReads });
}

function readGraphiqlSubscriptions(env: Env): 'ws' | 'sse' {
  const value = env.GRAPHIQL_SUBSCRIPTIONS?.trim().toLowerCase() || 'ws';
  if (value !== 'ws' && value !== 'sse') throw new ConfigError(`GRAPHIQL_SUBSCRIPTIONS must be ws or sse; got "${env.GRAPHIQL_SUBSCRIPTIONS}".`);
  return value;
}

export const DEFAULT_SERVICE_NAME = 'graphql-async-server';

export const defaultObservability: ObservabilityConfig = {
  logLevel: 'info',
  metrics: true,
  metricsPort: undefined,
  otlpEndpoint: undefined,
  serviceName: DEFAULT_SERVICE_NAME,
};

function readObservabilityConfig(env: Env): ObservabilityConfig {
  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got "${env.LOG_LEVEL}".`);
  const metricsPort = env.METRICS_PORT?.trim() ? readInt(env, 'METRICS_PORT', 0, 0, 65_535) : undefined;
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
  if (otlpEndpoint !== undefined && !(/^https?:\/\//i.test(otlpEndpoint) && URL.canParse(otlpEndpoint))) {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, such as http://127.0.0.1:4318; got "${otlpEndpoint}".`);
  }
  return {
    logLevel,
    metrics: readBoolean(env, 'METRICS', true),
    metricsPort,
    otlpEndpoint,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || DEFAULT_SERVICE_NAME,
  };
}

function readHttpConfig(env: Env, maxBodyBytes: number): Readonly<HttpConfig> {
  const http: HttpConfig = {
    maxConnections: readInt(env, 'MAX_CONNECTIONS', defaultHttp.maxConnections, 1, 10_000_000),
    maxPipelinedRequests: readInt(env, 'MAX_PIPELINED_REQUESTS', defaultHttp.maxPipelinedRequests, 1, 10_000),
    maxBodyBytesInFlight: readInt(env, 'MAX_BODY_BYTES_IN_FLIGHT', defaultHttp.maxBodyBytesInFlight, 1_024, 100_000_000_000),
    headersTimeoutMs: readInt(env, 'HEADERS_TIMEOUT_MS', defaultHttp.headersTimeoutMs, 100, 3_600_000),
    requestTimeoutMs: readInt(env, 'REQUEST_TIMEOUT_MS', defaultHttp.requestTimeoutMs, 100, 3_600_000),
    keepAliveTimeoutMs: readInt(env, 'KEEP_ALIVE_TIMEOUT_MS', defaultHttp.keepAliveTimeoutMs, 100, 3_600_000),
    sendTimeoutMs: readInt(env, 'SEND_TIMEOUT_MS', defaultHttp.sendTimeoutMs, 100, 3_600_000),
    maxQueuedResponseBytes: readInt(env, 'MAX_QUEUED_RESPONSE_BYTES', defaultHttp.maxQueuedResponseBytes, 1_024, 100_000_000_000),
    corsOrigins: readOrigins(env, 'CORS_ORIGINS'),
  };
  // node:http refuses a headers timeout longer than the request's, which contains it.
  if (http.headersTimeoutMs > http.requestTimeoutMs) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${http.headersTimeoutMs}) must not be more than REQUEST_TIMEOUT_MS (${http.requestTimeoutMs}).`);
  }
  // A smaller budget would refuse every body between the two bounds, whatever the load.
  if (http.maxBodyBytesInFlight < maxBodyBytes) {
    throw new ConfigError(`MAX_BODY_BYTES_IN_FLIGHT (${http.maxBodyBytesInFlight}) must be at least MAX_BODY_BYTES (${maxBodyBytes}).`);
  }
  return Object.freeze(http);
}

/**
 * unset → the SQLite file data/server.sqlite; `sqlite::memory:` → an in-memory SQLite database
 * (gone when the process exits); `file:PATH` → the SQLite file at PATH; `postgres://…` or
 * `postgresql://…` → that PostgreSQL database.
 */
export function parseDatabaseUrl(url: string | undefined, pool: DatabasePool = { poolSize: 10, lockConnections: defaultLockConnections(10) }): DatabaseConfig {
  const value = url?.trim();
  if (!value) return { dialect: 'sqlite', filename: resolve(DEFAULT_SQLITE_FILE) };
  if (value === 'sqlite::memory:' || value === 'file::memory:') return { dialect: 'sqlite', filename: ':memory:' };
  if (value.startsWith('file:')) {
    const path = value.slice('file:'.length);
    if (!path) throw new ConfigError('DATABASE_URL=file: needs a path, such as file:./data/server.sqlite.');
    return { dialect: 'sqlite', filename: resolve(path) };
  }
  if (/^postgres(ql)?:\/\//.test(value)) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError('DATABASE_URL is not a valid URL; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.');
    }
    if (!parsed.hostname || parsed.pathname.length <= 1) {
      throw new ConfigError('DATABASE_URL needs a host and a database name: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.');
    }
    const applicationName = parsed.searchParams.get('application_name') || DEFAULT_APPLICATION_NAME;
    return { dialect: 'postgres', url: value, ...pool, applicationName };
  }
  throw new ConfigError(
    `DATABASE_URL "${value}" is not understood. Use file:PATH or sqlite::memory: for SQLite, or leave it unset for ${DEFAULT_SQLITE_FILE}.`,
  );
}

/**
 * Sized from the process's limit of open files (Linux: /proc/self/limits), leaving room for the
 * database, log and library files: at its limit, accept() fails with EMFILE and clients wait in the
 * kernel's queue with no answer, while a connection over maxConnections is closed at once. 10,000
 * where the limit cannot be read.
 */
function defaultMaxConnections(): number {
  let openFiles: number;
  try {
    openFiles = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
  } catch {
    return 10_000;
  }
  if (!Number.isSafeInteger(openFiles) || openFiles <= 0) return 10_000;
  return Math.max(Math.floor(openFiles / 2), openFiles - 1_024);
}

type DatabasePool = Pick<Extract<DatabaseConfig, { dialect: 'postgres' }>, 'poolSize' | 'lockConnections'>;

/**
 * Lock holders may take all but two of the pool's connections by default: two stay for reads and
 * /readiness, which hold theirs for a statement or two, while lock holders (up to 5 s of `workMs`
 * inside an increment's lock) get as many as can be spared.
 */
export const defaultLockConnections = (poolSize: number): number => Math.max(1, poolSize - 2);

/** A pool of at least 2: one connection at least for lock holders, one at least for everything else. */
function readPool(env: Env): DatabasePool {
  const poolSize = readInt(env, 'DATABASE_POOL_SIZE', 10, 2, 1_000);
  return { poolSize, lockConnections: readInt(env, 'DATABASE_LOCK_CONNECTIONS', defaultLockConnections(poolSize), 1, poolSize - 1) };
}

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
  }
  return Number(raw);
}

/** A comma-separated list of origins (scheme://host[:port], as browsers send them in Origin). */
function readOrigins(env: Env, name: string): readonly string[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  const origins = raw.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '');
  for (const origin of origins) {
    if (origin === '*' || origin === 'null') {
      throw new ConfigError(`${name} lists the origins allowed, one by one; "${origin}" would let any web page call the API with its visitors' credentials.`);
    }
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      throw new ConfigError(`${name} must be origins such as https://app.example.com (a scheme, a host, a port if not the default; no path or trailing slash); got "${origin}".`);
    }
  }
  return Object.freeze(origins);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS };

/** A duration: a whole number of milliseconds, or with one unit: `500ms`, `30s`, `15m`, `12h`, `7d`. */
function readDuration(env: Env, name: string, fallback: number, minMs: number, maxMs: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw);
  const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 'ms']! : NaN;
  if (!(ms >= minMs && ms <= maxMs)) {
    throw new ConfigError(`${name} must be a duration from ${minMs} ms to ${maxMs / DAY_MS} days: milliseconds, or a whole number with ms, s, m, h or d (such as 12h or 7d); got "${raw}".`);
  }
  return ms;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false; got "${env[name]}".`);
}
