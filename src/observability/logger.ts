import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import pino, { type Logger } from 'pino';
import type { YogaLogger } from 'graphql-yoga';
import type { LogLevel } from '../config.js';
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
}: {
  level: LogLevel;
  pretty?: boolean;
  /** Where lines go instead of stdout; tests read them. */
  destination?: { write(line: string): void };
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
  // stdout may be a pipe nobody reads (a stalled log shipper): sonic-boom retries a write that
  // would block every 100 ms, forever; once the process exits, it gives up (see the exit flush).
  return pino(options, new LineBatches(pino.destination({ sync: false, maxLength: MAX_BUFFERED_BYTES, retryEAGAIN: () => !exiting })));
}

/** Lines gathered before they are handed to the destination (about eighty request lines; under sonic-boom's 16 KiB writes)... */
const BATCH_CHARS = 16_000;
/** ...or after this long, whichever comes first: how long a line may wait. */
const FLUSH_EVERY_MS = 200;
/**
 * What may wait for a stdout that does not take it (a log shipper stalled): past this, lines are
 * dropped rather than kept, so a stuck reader cannot fill the server's memory.
 */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * pino's asynchronous destination (sonic-boom), fed whole batches of lines rather than each line.
 * sonic-boom appends every line it is given to one string and measures that string's bytes on each
 * write, which copies all it has gathered so far: that cost 3.4 µs per request line at thousands
 * of requests a second, more than pino's formatting (a fifth of a `{ hello }`'s CPU;
 * bench/README.md, "The cost of observing"). Here lines wait in an array and go over joined,
 * BATCH_CHARS or more at once and at least every FLUSH_EVERY_MS; sonic-boom still does the writing
 * (partial writes, EAGAIN, the bound on what is buffered). What waits is written before the process
 * exits, whatever ends it.
 */
class LineBatches {
  #lines: string[] = [];
  #chars = 0;
  /** Bytes handed to sonic-boom, and bytes it has written (or dropped): flush() waits for them to meet. */
  #handed = 0;
  #written = 0;
  readonly #flushed: (() => void)[] = [];

  constructor(private readonly sonic: SonicBoom) {
    sonic.on('write', (bytes: number) => this.#wrote(bytes));
    sonic.on('drop', (text: string) => this.#wrote(Buffer.byteLength(text)));
    setInterval(() => this.#handOver(), FLUSH_EVERY_MS).unref();
    exitFlushes.add(this);
  }

  write(line: string): void {
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= BATCH_CHARS) this.#handOver();
  }

  /** What pino's `logger.flush(callback)` calls: the callback runs once every line so far is written. */
  flush(callback: () => void): void {
    this.#handOver();
    if (this.#written >= this.#handed) callback();
    else this.#flushed.push(callback);
  }

  flushSync(): void {
    this.#handOver();
    this.sonic.flushSync();
  }

  /**
   * At exit: what is left, written synchronously; if stdout does not take it, dropped, and the
   * destination closed, so that pino's own exit flush finds nothing to wait for either.
   */
  flushAtExit(): void {
    try {
      this.flushSync();
    } catch {
      this.sonic.destroy();
    }
  }

  #handOver(): void {
    if (this.#lines.length === 0) return;
    const text = this.#lines.join('');
    this.#lines = [];
    this.#chars = 0;
    this.#handed += Buffer.byteLength(text);
    this.sonic.write(text);
  }

  #wrote(bytes: number): void {
    this.#written += bytes;
    if (this.#written >= this.#handed) for (const callback of this.#flushed.splice(0)) callback();
  }
}

/**
 * Every LineBatches of the process (one per logger writing to stdout: one per process, but for
 * tests), written out synchronously when it exits: there is no event loop left then. Registered
 * before any destination, so it runs before pino's own exit flush.
 */
const exitFlushes = new Set<LineBatches>();
let exiting = false;
process.once('exit', () => {
  exiting = true;
  for (const batches of exitFlushes) batches.flushAtExit();
});

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
