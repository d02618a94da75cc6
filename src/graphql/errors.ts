import { GraphQLError } from 'graphql';

// Expected failures. Each carries `extensions.code`, so that clients can branch on it, and passes
// through Yoga's error masking (a GraphQLError is shown as is; anything else becomes "Unexpected error.").

/** An argument is malformed or out of its allowed range. */
export class BadUserInputError extends GraphQLError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code: 'BAD_USER_INPUT' } });
  }
}

/** A thing named by the request does not exist. */
export class NotFoundError extends GraphQLError {
  constructor(what: string, id: string) {
    super(`${what} "${id}" was not found.`, { extensions: { code: 'NOT_FOUND', id } });
  }
}

export class InsufficientFundsError extends GraphQLError {
  constructor({ accountId, balance, amount }: { accountId: string; balance: number; amount: number }) {
    super(`Account "${accountId}" has a balance of ${balance}, less than the ${amount} requested.`, {
      extensions: { code: 'INSUFFICIENT_FUNDS', accountId, balance, amount },
    });
  }
}

/** A lock was not granted within LOCK_TIMEOUT_MS; nothing was changed. */
export class LockTimeoutError extends GraphQLError {
  constructor(timeoutMs: number) {
    super(`The operation waited ${timeoutMs} ms for a lock without getting it; nothing was changed. Try again.`, {
      extensions: { code: 'LOCK_TIMEOUT' },
    });
  }
}

/** The queue is at QUEUE_MAX_PENDING; nothing was enqueued. */
export class QueueFullError extends GraphQLError {
  constructor({ active, adding, max }: { active: number; adding: number; max: number }) {
    super(`The queue holds ${active} items waiting or running; ${adding} more would pass its bound of ${max}. Nothing was enqueued; try again later.`, {
      extensions: { code: 'QUEUE_FULL', active, adding, max },
    });
  }
}

/** The process holds MAX_SUBSCRIPTIONS open subscriptions; this one was not started. */
export class TooManySubscriptionsError extends GraphQLError {
  constructor(max: number) {
    super(`This server has ${max} subscriptions open, as many as it allows; try again when one has ended.`, {
      extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', max },
    });
  }
}

/** The database cannot be reached; the request changed nothing and may be retried. */
export class DatabaseUnavailableError extends GraphQLError {
  constructor() {
    super('The database is unavailable; nothing was changed. Try again shortly.', {
      extensions: { code: 'DATABASE_UNAVAILABLE' },
    });
  }
}

/**
 * Every pooled connection of this process stayed in use while the request waited for one (3 s):
 * the database answers, but this server is overloaded. The statement that waited did not run.
 */
export class DatabaseBusyError extends GraphQLError {
  constructor() {
    super('Every database connection of this server stayed busy while the request waited for one; the statement that waited did not run. Try again shortly.', {
      extensions: { code: 'DATABASE_BUSY' },
    });
  }
}

/**
 * A query was refused by one of the limits in src/graphql/limits/ before anything ran. It is a validation
 * error, so the GraphQL-over-HTTP spec's status for those (400 with application/graphql-response+json)
 * applies: `http.spec` lets Yoga answer 200 instead to a client that accepts only application/json.
 */
export class QueryTooComplexError extends GraphQLError {
  constructor(message: string, limit: string) {
    super(message, { extensions: { code: 'QUERY_TOO_COMPLEX', limit, http: { spec: true, status: 400 } } });
  }
}

/**
 * Checks that an integer argument is within [min, max]; the message names the argument and the
 * range, so that a client can fix the request without reading the docs. `extensions` adds to the
 * error's (submitTransfers gives the index of the bad item).
 */
export function assertInRange(argument: string, value: number, min: number, max: number, extensions: Record<string, unknown> = {}): void {
  if (value < min || value > max) {
    throw new BadUserInputError(`${argument} must be between ${min} and ${max}; got ${value}.`, { ...extensions, argument, min, max });
  }
}

/** Checks a string argument's length in characters (code points). */
export function assertLength(argument: string, value: string, min: number, max: number): void {
  const length = [...value].length;
  if (length < min || length > max) {
    throw new BadUserInputError(`${argument} must be ${min} to ${max} characters long; got ${length}.`, { argument, min, max });
  }
}

/**
 * A result whose JSON would pass MAX_RESPONSE_BYTES, sent in its place (src/graphql/plugins/response-size-limit.ts).
 * The operation has run by then: a response's size is known only once it is made.
 */
export class ResponseTooLargeError extends GraphQLError {
  constructor(maxBytes: number) {
    super(
      `The response would be larger than ${maxBytes} bytes (MAX_RESPONSE_BYTES), so it was not sent. The operation did run: if it was a mutation, its changes were made. Ask for fewer objects or fields.`,
      { extensions: { code: 'RESPONSE_TOO_LARGE', maxBytes } },
    );
  }
}

// Refusals of the HTTP layer (src/http/), before any GraphQL runs: nothing was read or changed.

/** The request cannot be read: its target or Host header make no URL, its query string or body do not parse. */
export class BadRequestError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
  }
}

/** The server is at a capacity bound (MAX_BODY_BYTES_IN_FLIGHT); the request may be retried. */
export class ServerBusyError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: 'SERVER_BUSY' } });
  }
}

/** The server is stopping; the request was not run and may be sent again, to this server once restarted or to another replica. */
export class ShuttingDownError extends GraphQLError {
  constructor() {
    super('The server is shutting down; the request was not run. Send it again.', { extensions: { code: 'SHUTTING_DOWN' } });
  }
}
