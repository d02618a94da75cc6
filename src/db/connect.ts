import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type Dialect, type LogEvent, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import type { Db } from './database.js';

/** Where the data lives: an SQLite file (a path, or ':memory:'), or a PostgreSQL server. */
export type DatabaseTarget =
  | { dialect: 'sqlite'; filename: string }
  | {
      dialect: 'postgres';
      url: string;
      /** Connections in the pool. */
      poolSize: number;
      /** Shown in pg_stat_activity. */
      applicationName: string;
    };

export type ConnectOptions = {
  /** Called with every SQL statement run; tests count statements with it. */
  onQuery?: (sql: string) => void;
  /** Called when a statement is done, with how long it took and whether it failed (traces). */
  onQueryDone?: (query: { sql: string; durationMs: number; failed: boolean }) => void;
};

export type PoolStats = { inUse: number; idle: number; waiting: number };

const pools = new WeakMap<Db, pg.Pool>();

/** The connections of a PostgreSQL database's pool, for metrics; undefined on SQLite (one connection). */
export function poolStatsOf(db: Db): PoolStats | undefined {
  const pool = pools.get(db);
  return pool && { inUse: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

/** Opens the database. The caller owns it and calls `db.destroy()`. */
export function createDb(target: DatabaseTarget, options: ConnectOptions = {}): Db {
  const log = queryLog(options);
  if (target.dialect === 'sqlite') return new Kysely({ dialect: new SqliteDialect({ database: withStatementCache(openSqlite(target.filename)) }), log });
  const pool = createPostgresPool(target);
  const db: Db = new Kysely({ dialect: new PostgresDialect({ pool }), log });
  pools.set(db, pool);
  return db;
}

/**
 * A second, read-only connection to an SQLite file, for reads that must not wait for the writer.
 * SQLite has one writer, and Kysely runs everything on its one connection in turn: a transaction
 * that waits inside its locks (an increment's `workMs`) would hold every read back until it
 * commits. In WAL mode a reader on a connection of its own reads the last committed state meanwhile.
 * Undefined where the writer serves reads as well: PostgreSQL (a pool), or SQLite in memory (a
 * second connection would open another, empty, database). Open it after the writer, which makes
 * the file and its WAL mode.
 */
export function createReadDb(target: DatabaseTarget, options: ConnectOptions = {}): Db | undefined {
  if (target.dialect !== 'sqlite' || target.filename === ':memory:') return undefined;
  const database = new SQLite(target.filename, { readonly: true });
  database.pragma('busy_timeout = 5000');
  return new Kysely({ dialect: new SqliteDialect({ database: withStatementCache(database) }), log: queryLog(options) });
}

function queryLog({ onQuery, onQueryDone }: ConnectOptions): ((event: LogEvent) => void) | undefined {
  if (!onQuery && !onQueryDone) return undefined;
  return (event) => {
    if (event.level === 'query') onQuery?.(event.query.sql);
    onQueryDone?.({ sql: event.query.sql, durationMs: event.queryDurationMillis, failed: event.level === 'error' });
  };
}

function openSqlite(filename: string): SQLite.Database {
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
  const database = new SQLite(filename);
  // WAL lets readers of other processes (a backup, the sqlite3 shell) read while we write;
  // NORMAL is durable across process crashes in WAL mode and much faster than FULL.
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  return database;
}

/**
 * Kysely's SQLite driver prepares every statement anew; compiling the SQL is most of the cost of a
 * primary-key lookup. Keep the prepared statements of the most recently used SQL texts instead
 * (they are reusable: better-sqlite3 binds new parameters on every run).
 *
 * Bounded in entries and in bytes of SQL text, the least recently used going first. The SQL texts
 * of this server are finite by construction (lists travel as one parameter, src/db/list-parameter.ts),
 * so neither bound is reached today; they are what keeps a future query that writes client input
 * into its SQL from growing the process without end. The bytes bound stands in for the statements'
 * memory, which SQLite does not report per statement but which grows with the SQL they compile.
 */
export function withStatementCache(database: SQLite.Database, { maxEntries = 500, maxBytes = 1_000_000 } = {}): SqliteDatabase & { readonly cached: { entries: number; bytes: number } } {
  const statements = new Map<string, { statement: SQLite.Statement; bytes: number }>();
  let cachedBytes = 0;
  return {
    close: () => void database.close(),
    prepare(sql: string) {
      const cached = statements.get(sql);
      if (cached) {
        // Map order is insertion order: re-inserting marks it the most recently used.
        statements.delete(sql);
        statements.set(sql, cached);
        return cached.statement;
      }
      const statement = database.prepare(sql);
      const bytes = Buffer.byteLength(sql);
      // A text alone above the bytes bound is run, not kept.
      if (bytes > maxBytes) return statement;
      statements.set(sql, { statement, bytes });
      cachedBytes += bytes;
      for (const [oldest, { bytes }] of statements) {
        if (statements.size <= maxEntries && cachedBytes <= maxBytes) break;
        statements.delete(oldest);
        cachedBytes -= bytes;
      }
      return statement;
    },
    get cached() {
      return { entries: statements.size, bytes: cachedBytes };
    },
  };
}

function createPostgresPool(config: Extract<DatabaseTarget, { dialect: 'postgres' }>): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    application_name: config.applicationName,
    // A request waits at most this long for a connection, so an unreachable database fails it
    // within seconds (DATABASE_UNAVAILABLE) instead of hanging.
    connectionTimeoutMillis: 3_000,
    // Detects a database that stops answering on an open connection.
    keepAlive: true,
    idleTimeoutMillis: 30_000,
  });
  // A connection that dies (the server restarted, an admin terminated it, the network dropped)
  // emits 'error': on the pool for an idle client, on the client itself for one in use. Unhandled,
  // either would crash the process. The query in progress fails on its own (DATABASE_UNAVAILABLE),
  // the pool drops the broken client, and the next request opens a new connection.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}
