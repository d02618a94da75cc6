import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { addAnswerHeader, setAnswerHeaders } from './answer-headers.js';
import { BadRequestError } from './errors.js';
import { createAccessLog, type AccessLogEntry } from '../observability/access-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { attachRecord, type RequestRecord } from '../observability/request-record.js';
import type { Tracing } from '../observability/tracing.js';
import type { CorsPolicy } from './cors.js';
import { isFormLikePost } from './csrf.js';
import { serveMetrics } from './metrics-endpoint.js';
import { refuse } from './refuse.js';
import { requestIdOf } from './request-id.js';

export type ObservedListenerOptions = {
  cors: CorsPolicy;
  logger: Logger;
  metrics?: Metrics;
  /** Whether GET /metrics is answered here (METRICS on, no METRICS_PORT of its own). */
  metricsHere: boolean;
  tracing?: Tracing;
};

/**
 * What every HTTP request goes through before either path (the fast path or Yoga's): its id, the
 * CORS policy and CSRF rule, and once answered its log line, metrics and span. One implementation
 * for both paths, so a browser's request (with an Origin) takes the fast path like any other, and
 * what operators see does not depend on which path served it.
 *
 * The GraphQL part of the record (operation, error codes, phase spans) is filled in by the GraphQL
 * plugin (src/observability/graphql-observation.ts), which finds it on `req`.
 */
export function observeRequests(inner: RequestListener, { cors, logger, metrics, metricsHere, tracing }: ObservedListenerOptions): RequestListener {
  const logRequests = logger.isLevelEnabled('debug') || logger.isLevelEnabled('info');
  const accessLog = createAccessLog(logger);
  const finished = (req: IncomingMessage, res: ServerResponse, record: RequestRecord) => {
    const status = res.statusCode;
    const ms = performance.now() - record.startedAt;
    metrics?.requestEnded(status, ms / 1000);
    if (record.span) tracing!.endRequest(record.span, status);
    if (!logRequests && status < 500) return;
    const path = pathOf(req.url);
    const entry: AccessLogEntry = {
      reqId: record.id,
      method: req.method ?? 'GET',
      path,
      status,
      ms,
      operation: record.operationType,
      operationName: record.operationName,
      errorCodes: record.errorCodes,
      // The client went away before the whole answer was sent.
      aborted: res.writableFinished ? undefined : true,
    };
    if (status < 500) return accessLog(QUIET_PATHS.has(path) ? 'debug' : 'info', entry);
    // A server error's line goes through pino, like every line but the access log's.
    logger[status === 503 ? 'warn' : 'error']({ ...entry, ms: Math.round(ms * 100) / 100 }, `${entry.method} ${path} ${status}`);
  };

  return (req, res) => {
    const record: RequestRecord = { id: requestIdOf(req), startedAt: performance.now() };
    attachRecord(req, record);
    // Sent with the answer, whichever path writes it (answer-headers.ts says why not setHeader).
    addAnswerHeader(req, 'x-request-id', record.id);
    metrics?.requestStarted();
    if (tracing) record.span = tracing.startRequest(req.method ?? 'GET', pathOf(req.url), req.headers);
    // A response closes once: `on` spares the wrapper `once` makes for each request.
    res.on('close', () => finished(req, res, record));

    // A target that is not a path (OPTIONS *, an absolute URL) is no browser's: the listener refuses it.
    if (req.url?.charCodeAt(0) === SLASH && cors.apply(req, res)) return;
    if (isFormLikePost(req)) {
      return refuse(
        res,
        415,
        new BadRequestError('A GraphQL POST must send its body as application/json. Form and text/plain bodies are refused: any web page could send them from its visitors\' browsers.'),
        { close: true },
      );
    }
    if (metricsHere && metrics && req.url === '/metrics' && req.method === 'GET') {
      setAnswerHeaders(res);
      return serveMetrics(metrics, res, logger);
    }
    if (record.span) return tracing!.withSpan(record.span, () => inner(req, res));
    inner(req, res);
  };
}

const SLASH = 0x2f;

/** Paths that monitors poll every few seconds: their lines are debug, not info. */
const QUIET_PATHS = new Set(['/health', '/readiness', '/metrics']);

/**
 * The path without its query string (for a GET, a whole query with its variables), and at most 200
 * characters of it: a client chooses it, and it goes into every log line and span of the request.
 */
const pathOf = (url: string | undefined) => {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)).slice(0, 200);
};
