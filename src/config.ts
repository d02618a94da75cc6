import { resolve } from 'node:path';

/** Where the data lives: an SQLite file (a path, or ':memory:'), or a PostgreSQL server. */
export type DatabaseConfig =
  | { dialect: 'sqlite'; filename: string }
  | {
      dialect: 'postgres';
      url: string;
      /** Connections per process (DATABASE_POOL_SIZE). */
      poolSize: number;
      /**
       * Of those, how many lock-holding work (increment, transfer, submitTransfers, the queue's
       * workers) may hold at once (DATABASE_LOCK_CONNECTIONS); the rest stay for reads and /readiness.
       */
      lockConnections: number;
      /** Shown in pg_stat_activity: the URL's application_name, or DEFAULT_APPLICATION_NAME. */
      applicationName: string;
    };

/** The query limits of src/limits/: each refused with QUERY_TOO_COMPLEX when passed, but maxStringLength (BAD_USER_INPUT). */
export type LimitsConfig = {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
  /** The longest string argument, in characters (code points), literal or variable. */
  maxStringLength: number;
};

export type Config = Readonly<{
  port: number;
  host: string;
  database: DatabaseConfig;
  /** Request bodies above this many bytes are refused with 413 before they are buffered. */
  maxBodyBytes: number;
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
  queue: Readonly<QueueConfig>;
}>;

export type QueueConfig = {
  /** Items this process runs at once; 0: an API-only replica that runs no workers. */
  concurrency: number;
  /** Items waiting or running over the whole database above which submitTransfers is refused. */
  maxPending: number;
  /** Simulated work per item, outside its locks and transaction. */
  itemWorkMs: number;
};

/** A configuration mistake: main.ts prints the message alone and exits non-zero. */
export class ConfigError extends Error {}

export const DEFAULT_SQLITE_FILE = 'data/server.sqlite';
export const DEFAULT_APPLICATION_NAME = 'graphql-async-server';

export const defaultLimits: LimitsConfig = {
  maxDepth: 12,
  maxAliases: 100,
  maxTokens: 20_000,
  maxDirectives: 50,
  maxCost: 50_000,
  // Every legitimate argument fits with room to spare: counter names take up to 100 characters,
  // idempotency keys 200, ids 10 digits. A million-character name echoed by 100 aliases is not one.
  maxStringLength: 1_000,
};

export const defaultQueue: QueueConfig = { concurrency: 4, maxPending: 100_000, itemWorkMs: 0 };

type Env = Record<string, string | undefined>;

/** Reads the environment into one frozen, validated Config; throws ConfigError on a bad value. */
export function loadConfig(env: Env = process.env): Config {
  return Object.freeze({
    port: readInt(env, 'PORT', 4000, 0, 65_535),
    host: env.HOST?.trim() || '127.0.0.1',
    database: parseDatabaseUrl(env.DATABASE_URL, readPool(env)),
    maxBodyBytes: readInt(env, 'MAX_BODY_BYTES', 1_000_000, 1_024, 1_000_000_000),
    httpFastPath: readBoolean(env, 'HTTP_FAST_PATH', true),
    lockTimeoutMs: readInt(env, 'LOCK_TIMEOUT_MS', 10_000, 1, 3_600_000),
    shutdownTimeoutMs: readInt(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
    limits: Object.freeze({
      maxDepth: readInt(env, 'MAX_DEPTH', defaultLimits.maxDepth, 1, 1_000),
      maxAliases: readInt(env, 'MAX_ALIASES', defaultLimits.maxAliases, 0, 100_000),
      maxTokens: readInt(env, 'MAX_TOKENS', defaultLimits.maxTokens, 1, 10_000_000),
      maxDirectives: readInt(env, 'MAX_DIRECTIVES', defaultLimits.maxDirectives, 0, 100_000),
      maxCost: readInt(env, 'MAX_COST', defaultLimits.maxCost, 1, 1_000_000_000),
      maxStringLength: readInt(env, 'MAX_STRING_LENGTH', defaultLimits.maxStringLength, 1, 1_000_000_000),
    }),
    queue: Object.freeze({
      concurrency: readInt(env, 'QUEUE_CONCURRENCY', defaultQueue.concurrency, 0, 256),
      maxPending: readInt(env, 'QUEUE_MAX_PENDING', defaultQueue.maxPending, 1, 100_000_000),
      itemWorkMs: readInt(env, 'QUEUE_ITEM_WORK_MS', defaultQueue.itemWorkMs, 0, 60_000),
    }),
  });
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

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false; got "${env[name]}".`);
}
