// Recognises the errors that mean "the database cannot be reached right now", as opposed to a bug
// or a client's mistake: the server answers those with DATABASE_UNAVAILABLE and recovers by itself.

/** Socket-level failures, from Node and from node-postgres. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01..57P03 (admin shutdown, crash
 * shutdown, cannot connect now) and 53300 (too many connections).
 */
const isUnavailableSqlState = (code: string) => code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code);

/** node-postgres reports a dropped or unobtainable connection with these messages and no code. */
const MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || isUnavailableSqlState(code))) return true;
    if (MESSAGES.some((message) => cause instanceof Error && cause.message.includes(message))) return true;
    const inner = (cause as { originalError?: unknown }).originalError;
    if (inner instanceof Error && isDatabaseUnavailable(inner)) return true;
    if (cause instanceof AggregateError && cause.errors.some(isDatabaseUnavailable)) return true;
  }
  return false;
}
