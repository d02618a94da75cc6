import type { IncomingMessage } from 'node:http';
import type { Span } from '@opentelemetry/api';

/**
 * What is known of one HTTP request while it runs, for its log line, its metrics and its trace:
 * made by the HTTP listener (src/http/observed-listener.ts) and filled by the GraphQL plugin
 * (src/observability/graphql-observation.ts), which finds it on the request through the context
 * (`context.req`, on the fast path and Yoga's alike).
 */
export type RequestRecord = {
  /** The request id: sent back as x-request-id and on every log line about the request. */
  readonly id: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  operationType?: string;
  operationName?: string;
  /** The distinct `extensions.code` of the errors in the result. */
  errorCodes?: string[];
  /** The request's span, when tracing is on. */
  span?: Span;
};

const RECORD = Symbol('request record');

type Recorded = IncomingMessage & { [RECORD]?: RequestRecord };

export function attachRecord(req: IncomingMessage, record: RequestRecord): void {
  (req as Recorded)[RECORD] = record;
}

/**
 * The initial context of an operation that came over WebSocket, which has no IncomingMessage of its
 * own (src/ws/graphql-ws-server.ts): the record travels in the context itself.
 */
export const contextWithRecord = (record: RequestRecord): Record<symbol, RequestRecord> => ({ [RECORD]: record });

/** The record of the request a GraphQL context belongs to; undefined for requests served neither over HTTP nor WebSocket (yoga.fetch in tests). */
export function recordOf(context: unknown): RequestRecord | undefined {
  const recorded = context as ({ req?: Recorded } & { [RECORD]?: RequestRecord }) | undefined;
  return recorded?.[RECORD] ?? recorded?.req?.[RECORD];
}
