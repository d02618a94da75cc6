import { createLogger, type YogaLogger } from 'graphql-yoga';

/**
 * Yoga's logger, except for requests whose client went away: a resolver waiting on the request's
 * signal (hello's timer, a lock) then throws an AbortError, which Yoga logged as an error with its
 * 14-line stack, about 930 bytes for every client that disconnects. It is no fault of the server,
 * and any client could fill the log with it, so it is one short line at debug level instead.
 */
export function createAppLogger(enabled: boolean): YogaLogger {
  const logger = createLogger(enabled ? 'info' : 'silent');
  return {
    debug: logger.debug,
    info: logger.info,
    warn: logger.warn,
    error: (...args: unknown[]) => {
      if (args.length === 1 && isAbort(args[0])) logger.debug(`Request cancelled: the client went away${pathOf(args[0])}.`);
      else logger.error(...args);
    },
  };
}

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
