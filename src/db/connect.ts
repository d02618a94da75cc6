import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, type LogEvent } from 'kysely';
import type { DatabaseConfig } from '../config.js';
import type { Db } from './database.js';

export type ConnectOptions = {
  /** Called with every SQL statement run; tests count statements with it. */
  onQuery?: (sql: string) => void;
};

/** Opens the database named by the config. The caller owns it and calls `db.destroy()`. */
export function createDb(config: DatabaseConfig, { onQuery }: ConnectOptions = {}): Db {
  const log = onQuery
    ? (event: LogEvent) => {
        if (event.level === 'query') onQuery(event.query.sql);
      }
    : undefined;
  return new Kysely({ dialect: new SqliteDialect({ database: openSqlite(config.filename) }), log });
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
