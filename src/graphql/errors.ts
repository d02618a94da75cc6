import { GraphQLError } from 'graphql';
import { isDatabaseBusy, isDatabaseUnavailable } from '../db/unavailable.js';
import { CodedError } from '../errors.js';

// The errors clients see. Each carries `extensions.code`, so that clients can branch on it, and
// passes through Yoga's error masking as it is (a GraphQLError is shown; anything else becomes
// "Unexpected error."). The bank, the locks and the database raise plain CodedErrors, which
// toClientError turns into GraphQL errors here, at the edge, in one place.

/**
 * What a client is told of an error raised while its operation ran: a CodedError becomes a GraphQL
 * error with its code and details, where the original was raised (path, locations); a lost
 * database or a busy pool gets a code that says "retry", not "bug"; anything else is undefined,
 * for Yoga to mask as "Unexpected error.". Yoga's maskError calls it for every error of a result.
 */
export function toClientError(error: unknown): GraphQLError | undefined {
  const located = error instanceof GraphQLError ? error : undefined;
  const original = located ? located.originalError : error;
  if (original instanceof CodedError) {
    return new GraphQLError(original.message, {
      nodes: located?.nodes,
      source: located?.source,
      positions: located?.positions,
      path: located?.path,
      extensions: { code: original.code, ...original.details },
    });
  }
  if (isDatabaseUnavailable(error)) return new DatabaseUnavailableError();
  if (isDatabaseBusy(error)) return new DatabaseBusyError();
  return undefined;
}

/** An argument the GraphQL layer itself refuses (src/graphql/limits/text-arguments.ts): not text, or too long. */
export class BadUserInputError extends GraphQLError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code: 'BAD_USER_INPUT' } });
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

// Who may run what (src/auth/, src/graphql/plugins/authentication.ts), and which documents (trusted-documents.ts).

/**
 * The operation needs a valid bearer token (a mutation, or any operation with
 * AUTH_REQUIRED_FOR_READS) and the request has none, or one that does not verify. HTTP 401 with
 * `WWW-Authenticate: Bearer`, as RFC 6750 asks; nothing ran.
 */
export class UnauthenticatedError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } } });
  }
}

/** The keys that verify tokens could not be fetched (AUTH_JWKS_URL does not answer); nothing ran, retry. */
export class AuthUnavailableError extends GraphQLError {
  constructor() {
    super('The keys that verify tokens could not be fetched; nothing was run. Try again shortly.', {
      extensions: { code: 'AUTH_UNAVAILABLE', http: { status: 503 } },
    });
  }
}

/** A documentId (or persistedQuery hash) that names no trusted document; nothing ran. */
export class PersistedQueryNotFoundError extends GraphQLError {
  constructor() {
    super('No trusted document has this id; nothing was run. Regenerate the client or the server\'s TRUSTED_DOCUMENTS file.', {
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } },
    });
  }
}

/** TRUSTED_DOCUMENTS_ONLY: a request sent a document's text rather than a trusted document's id; nothing ran. */
export class PersistedQueryOnlyError extends GraphQLError {
  constructor() {
    super('This server runs trusted documents only: send a documentId (or extensions.persistedQuery.sha256Hash), not a query text.', {
      extensions: { code: 'PERSISTED_QUERY_ONLY', http: { status: 400 } },
    });
  }
}

/** One WebSocket has WS_MAX_OPERATIONS_PER_CONNECTION operations running; this one was not started. */
export class TooManyOperationsError extends GraphQLError {
  constructor(max: number) {
    super(`This connection has ${max} operations running, as many as it may (WS_MAX_OPERATIONS_PER_CONNECTION); complete one first.`, {
      extensions: { code: 'TOO_MANY_OPERATIONS', max },
    });
  }
}
