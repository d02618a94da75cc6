import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import pino, { type Logger } from 'pino';
import type { YogaLogger } from 'graphql-yoga';
import type { LogLevel } from '../config.js';
import { LineBatches } from './log-batches.js';
import { isUnexpected, wasLogged } from './unexpected-errors.js';

export type { Logger };

/**
 * The process's one logger (pino): a JSON object per line, with `level`, `time`, `msg` and the
 * fields of the line (`reqId` on every line about a request), for a log collector to search. When
 * stdout is a terminal, the same lines are printed readably (pino-pretty) instead. At level
 * `silent` nothing is written anywhere, and no destination is opened.
 */
export function createLogger({
  level,
  pretty = process.stdout.isTTY === true,
  destination,
  file,
}: {
  level: LogLevel;
  pretty?: boolean;
  /** Where lines go instead of stdout; tests read them. */
  destination?: { write(line: string): void };
  /** A file the lines are written to, as they would be to stdout (tests). */
  file?: string;
}): Logger {
  const options = {
    level,
    // pid and hostname on every line are for the log shipper to add, not for every line to carry.
    base: undefined,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (level === 'silent') return pino(options, { write: () => undefined });
  if (pretty) return pino(options, pinoPretty());
  return pino(options, LineBatches.to(file));
}

/** pino-pretty, loaded only for a terminal: a server writing to a pipe or a file never loads it. */
function pinoPretty() {
  // A synchronous require keeps createLogger synchronous; pino-pretty is CommonJS.
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as (options: object) => NodeJS.WritableStream;
  return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
}

/**
 * Resolves once every line logged so far is written (or after `timeoutMs`, should stdout not take
 * them): call it before process.exit, which would cut short a write in progress.
 */
export function flushLogs(logger: Logger, timeoutMs = 1_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    try {
      logger.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      // A destination already closed has nothing left to write.
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * Yoga's logger, on ours. Yoga logs the unexpected errors of operations (masked for the client):
 * server errors, written here only if the request's own line did not say them (unexpected-errors.ts).
 * It also logs, at error level, every error it maps to a code: those are the client's, at debug here.
 * And for requests whose client went away: a resolver waiting on the request's
 * signal (hello's timer, a lock) then throws an AbortError, which Yoga logged as an error with its
 * 14-line stack, about 930 bytes for every client that disconnects. It is no fault of the server,
 * and any client could fill the log with it, so it is one short line at debug level instead.
 */
export function yogaLogger(logger: Logger): YogaLogger {
  return {
    // Yoga says what it does at debug level several times a request: format only what is written.
    debug: (...args: unknown[]) => logger.isLevelEnabled('debug') && logger.debug(format(args)),
    info: (...args: unknown[]) => logger.isLevelEnabled('info') && logger.info(format(args)),
    warn: (...args: unknown[]) => logger.isLevelEnabled('warn') && logger.warn(format(args)),
    error: (...args: unknown[]) => {
      if (args.length === 1 && isAbort(args[0])) logger.debug(`Request cancelled: the client went away${pathOf(args[0])}.`);
      else if (args.length === 1 && isUnexpected(args[0])) logUnlessLoggedWithRequest(logger, args[0] as Error);
      // Yoga also "logs" every error it maps to a code: a client's mistake, not a server error.
      else if (args.length === 1 && args[0] instanceof Error) logger.debug(`Refused: ${args[0].message}`);
      else logger.error(format(args));
    },
  };
}

/**
 * Yoga logs an unexpected error when it masks it, before the result is out; the GraphQL observation
 * plugin logs the same error with its request's id once it is (unexpected-errors.ts). A turn later,
 * this line is written only if the plugin did not.
 */
function logUnlessLoggedWithRequest(logger: Logger, error: Error): void {
  setImmediate(() => {
    if (!wasLogged(error)) logger.error({ err: error }, error.message);
  });
}

const format = (args: unknown[]): string => args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg))).join(' ');

type ErrorLike = { name?: unknown; originalError?: unknown; path?: unknown };

/** An AbortError, or a GraphQL error wrapping one (the error of the field that was waiting). */
export function isAbort(error: unknown): boolean {
  for (let cause = error as ErrorLike | undefined, depth = 0; cause && depth < 5; cause = cause.originalError as ErrorLike | undefined, depth++) {
    if (cause.name === 'AbortError') return true;
  }
  return false;
}

const pathOf = (error: unknown) => {
  const path = (error as ErrorLike).path;
  return Array.isArray(path) ? ` (at ${path.join('.')})` : '';
};
