// Recognises the errors that mean "the database cannot be reached right now" (DATABASE_UNAVAILABLE)
// and "every pooled connection is in use" (DATABASE_BUSY), as opposed to a bug or a client's
// mistake: the server answers those with their code and recovers by itself.

/** Socket-level failures, from Node and from node-postgres. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01..57P03 (admin shutdown, crash
 * shutdown, cannot connect now) and 53300 (too many connections).
 */
const isUnavailableSqlState = (code: string) => code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code);

/**
 * node-postgres reports a dropped or unobtainable connection with these messages and no code; a
 * connection that could not be opened in time is "Connection terminated due to connection timeout".
 */
const MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

/**
 * pg-pool's message when a request waited connectionTimeoutMillis for a pooled connection while
 * every one was in use: the database may be fine, the pool is not big enough for the load.
 */
const POOL_WAIT_TIMEOUT = 'timeout exceeded when trying to connect';

export function isDatabaseUnavailable(error: unknown): boolean {
  return someCause(error, (cause) => {
    const code = (cause as { code?: unknown }).code;
    return (typeof code === 'string' && (NETWORK_CODES.has(code) || isUnavailableSqlState(code))) || MESSAGES.some((message) => cause.message.includes(message));
  });
}

export function isDatabaseBusy(error: unknown): boolean {
  return someCause(error, (cause) => cause.message === POOL_WAIT_TIMEOUT);
}

/** Whether `test` holds for the error or one of its causes (GraphQL's originalError, Error.cause, AggregateError's errors). */
function someCause(error: unknown, test: (cause: Error) => boolean): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth += 1) {
    if (test(cause)) return true;
    const inner = (cause as { originalError?: unknown }).originalError;
    if (inner instanceof Error && someCause(inner, test)) return true;
    if (cause instanceof AggregateError && cause.errors.some((inner) => someCause(inner, test))) return true;
  }
  return false;
}
