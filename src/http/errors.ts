import { GraphQLError } from 'graphql';

// Refusals of the HTTP layer, before any GraphQL runs: nothing was read or changed. They are
// GraphQL errors in shape (a message and extensions.code), so that clients read them as they read
// any other; `extensions.http` is the status, which Yoga and refuse.ts send and leave out of the body.

/** The request cannot be read: its target, Host or Content-Length header, query string or body. */
export class BadRequestError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
  }
}

/** The body is larger than MAX_BODY_BYTES (413), declared so or counted as it streamed in. */
export class RequestTooLargeError extends GraphQLError {
  constructor() {
    super('Request body too large', { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });
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
