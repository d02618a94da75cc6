import type { IncomingMessage, Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { GraphQLError, getOperationAST, type ExecutionArgs, type ExecutionResult, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';
import type { OperationResult, Context as WsContext } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import type { GraphQLParams } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { bearerToken, type TokenVerifier } from '../auth/token-verifier.js';
import type { WebSocketConfig } from '../config.js';
import { TooManyOperationsError } from '../graphql/errors.js';
import type { ConnectionAuthentication } from '../graphql/plugins/authentication.js';
import type { TrustedDocuments, TrustedParams } from '../graphql/plugins/trusted-documents.js';
import type { Yoga } from '../graphql/yoga.js';
import { requestIdOf } from '../http/request-id.js';
import { observeErrors } from '../observability/graphql-observation.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { contextWithRecord, type RequestRecord } from '../observability/request-record.js';
import type { Tracing } from '../observability/tracing.js';

/** What graphql-ws needs of the app: the same Yoga, documents, tokens and response bound as HTTP. */
export type GraphQLWsDeps = {
  yoga: Yoga;
  config: WebSocketConfig;
  /** MAX_BODY_BYTES: the largest message a client may send (ws' maxPayload; past it the socket is closed with 1009). */
  maxMessageBytes: number;
  trustedDocuments: TrustedDocuments | undefined;
  /** undefined: no authentication configured. */
  verifyToken: TokenVerifier | undefined;
  /** MAX_RESPONSE_BYTES, applied to each result sent (Yoga's onResultProcess does not run on this path). */
  fitResult(result: ExecutionResult): ExecutionResult;
  /** Each operation gets a log line, its error codes counted and a span, as an HTTP request does. */
  observability: { logger: Logger; metrics?: Metrics; tracing?: Tracing };
};

export type GraphQLWsServer = {
  /** Sockets open now, for tests and diagnostics. */
  readonly connections: number;
  /**
   * Refuses new sockets, lets the operations in flight finish (subscriptions have been completed by
   * the app's beginShutdown) until `deadline` (a Date.now() value), then closes every socket with
   * 1001 Going Away; sockets whose clients do not answer the close are cut at the deadline.
   */
  close(deadline: number): Promise<void>;
};

/**
 * One socket's own: its authentication, the signal its operations' resolvers see (aborted when it
 * closes), its request id (the upgrade request's), and the records of its operations running now.
 */
type Connection = {
  authentication: ConnectionAuthentication;
  request: Request;
  closed: AbortController;
  id: string;
  operationsSeen: number;
  records: Map<string, RequestRecord>;
};
type ConnectionExtra = Extra & { connection?: Connection };
type Ctx = WsContext<Record<string, unknown> | undefined, ConnectionExtra>;

/**
 * graphql-ws (the graphql-transport-ws protocol, what Apollo Client's GraphQLWsLink and urql use)
 * on the HTTP server's port and GraphQL path, following Yoga's documented integration: every
 * operation goes through `yoga.getEnveloped`, so the same schema, context, plugins and limits
 * (parse and merge limits, armor, cost, text arguments, masking, subscription slots, authentication)
 * apply as on HTTP. What Yoga runs outside envelop is applied here: trusted documents (onParams)
 * and the response bound (onResultProcess).
 *
 * What one client can hold: one connection (counted against MAX_CONNECTIONS with HTTP ones, as node
 * counts an upgraded socket until it closes; slow readers dropped as on HTTP, src/http/slow-readers.ts),
 * messages of MAX_BODY_BYTES, WS_MAX_OPERATIONS_PER_CONNECTION operations at once, subscriptions
 * within MAX_SUBSCRIPTIONS with SSE, and a socket that does not init within WS_CONNECTION_INIT_TIMEOUT_MS
 * or stops answering pings (every WS_KEEP_ALIVE_MS) is closed.
 */
export function serveGraphQLOverWebSocket(server: Server, deps: GraphQLWsDeps): GraphQLWsServer {
  const { yoga, config } = deps;
  const path = yoga.graphqlEndpoint;
  let closing = false;
  const sockets = new WebSocketServer({ noServer: true, maxPayload: deps.maxMessageBytes });
  const contexts = new Set<Ctx>();
  const { logger, metrics, tracing } = deps.observability;

  // The socket's id, sent back with the 101 as x-request-id; its operations' ids are `<id>.<n>`.
  const socketIds = new WeakMap<IncomingMessage, string>();
  sockets.on('headers', (headers: string[], request: IncomingMessage) => {
    const id = requestIdOf(request);
    socketIds.set(request, id);
    headers.push(`x-request-id: ${id}`);
  });

  const startOperation = (ctx: Ctx, operationId: string): RequestRecord => {
    const connection = ctx.extra.connection!;
    connection.operationsSeen += 1;
    const record: RequestRecord = { id: `${connection.id}.${connection.operationsSeen}`, startedAt: performance.now() };
    if (tracing) record.span = tracing.startRequest('WS', path, ctx.extra.request.headers);
    connection.records.set(operationId, record);
    return record;
  };
  /** The operation's line and span, once, when it completes, fails or its socket closes. */
  const endOperation = (ctx: Ctx, operationId: string, { aborted = false } = {}) => {
    const records = ctx.extra.connection?.records;
    const record = records?.get(operationId);
    if (!record) return;
    records!.delete(operationId);
    record.span?.end();
    const ms = Math.round((performance.now() - record.startedAt) * 100) / 100;
    const { operationType: operation, operationName, errorCodes } = record;
    logger.info({ reqId: record.id, method: 'WS', path, ms, operation, operationName, errorCodes, aborted: aborted || undefined }, `WS ${path} ${operation ?? 'refused'}`);
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = request.url?.split('?', 1)[0];
    if (pathname !== path || closing) return refuseUpgrade(socket, closing ? '503 Service Unavailable' : '404 Not Found');
    sockets.handleUpgrade(request, socket, head, (webSocket) => sockets.emit('connection', webSocket, request));
  };
  server.on('upgrade', onUpgrade);

  /** The operation's execution arguments, through Yoga's envelop and what Yoga runs outside it; or why it is refused. */
  const prepareOperation = async (ctx: Ctx, payload: unknown, record: RequestRecord): Promise<ExecutionArgs | readonly GraphQLError[]> => {
    const connection = ctx.extra.connection!;
    // The operation's id is in ctx.subscriptions already.
    if (Object.keys(ctx.subscriptions).length > config.maxOperationsPerConnection) return [new TooManyOperationsError(config.maxOperationsPerConnection)];
    let params: TrustedParams;
    try {
      params = deps.trustedDocuments ? deps.trustedDocuments.resolve(payload as TrustedParams) : (payload as TrustedParams);
    } catch (error) {
      return [error as GraphQLError];
    }
    const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
      request: connection.request,
      params: params as GraphQLParams,
      connectionParams: ctx.connectionParams,
      connectionAuthentication: connection.authentication,
      ...contextWithRecord(record),
    });
    let document;
    try {
      document = parse(params.query!);
    } catch (error) {
      return [error instanceof GraphQLError ? error : new GraphQLError('The document could not be parsed.')];
    }
    const errors = validate(schema, document);
    if (errors.length > 0) return errors;
    // Checked here rather than left to graphql-ws, which refuses it without a hook when the operation was completed meanwhile.
    if (!getOperationAST(document, params.operationName ?? undefined)) return [new GraphQLError('Unable to identify operation')];
    return {
      schema,
      document,
      operationName: params.operationName ?? undefined,
      variableValues: params.variables,
      contextValue: await contextFactory(),
      rootValue: { execute, subscribe },
    } satisfies ExecutionArgs;
  };

  const graphqlWs = useServer<Record<string, unknown> | undefined, { connection?: Connection }>(
    {
      // Never an internal error's message in a close reason.
      isProd: true,
      connectionInitWaitTimeout: config.connectionInitTimeoutMs,
      async onConnect(ctx) {
        if (closing) return false;
        const closed = new AbortController();
        const connection: Connection = {
          authentication: { claims: undefined },
          request: new Request(`http://websocket${path}`, { method: 'POST', signal: closed.signal }),
          closed,
          id: socketIds.get(ctx.extra.request) ?? requestIdOf(ctx.extra.request),
          operationsSeen: 0,
          records: new Map(),
        };
        ctx.extra.connection = connection;
        contexts.add(ctx as Ctx);
        if (!deps.verifyToken) return true;
        // Verified once per socket; a socket with a bad token is refused (4403) rather than let run public reads,
        // so that a client learns of its bad token at once.
        try {
          const token = bearerToken(ctx.connectionParams?.authorization);
          if (token !== undefined) connection.authentication.claims = await deps.verifyToken(token);
          return true;
        } catch {
          return false;
        }
      },
      onClose(ctx) {
        contexts.delete(ctx as Ctx);
        ctx.extra.connection?.closed.abort();
        for (const operationId of [...(ctx.extra.connection?.records.keys() ?? [])]) endOperation(ctx as Ctx, operationId, { aborted: true });
      },
      async onSubscribe(ctx, id, payload) {
        const record = startOperation(ctx as Ctx, id);
        const prepared = await prepareOperation(ctx as Ctx, payload, record);
        // graphql-ws sends a refusal, through onError, only while the operation is still open: one
        // its client completed meanwhile (the `complete` may come in the same packet) ends here,
        // or its record would stay as long as the socket.
        if (Array.isArray(prepared) && !(id in ctx.subscriptions)) {
          observeErrors(prepared, record, { logger, metrics });
          endOperation(ctx as Ctx, id);
        }
        return prepared;
      },
      execute: (args) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args),
      onNext: (ctx, id, _payload, _args, result) => {
        if (result.errors?.length) observeErrors(result.errors, ctx.extra.connection?.records.get(id), { logger, metrics });
        return withoutHttpDetails(deps.fitResult(result));
      },
      // Errors sent instead of a result (what onSubscribe refused: limits, documents), which end the operation.
      onError: (ctx, id, _payload, errors) => {
        observeErrors(errors, ctx.extra.connection?.records.get(id), { logger, metrics });
        endOperation(ctx as Ctx, id);
        return errors.map(formatWithoutHttpDetails);
      },
      onComplete: (ctx, id) => endOperation(ctx as Ctx, id),
    },
    sockets,
    config.keepAliveMs,
  );

  return {
    get connections() {
      return sockets.clients.size;
    },
    async close(deadline) {
      closing = true;
      server.off('upgrade', onUpgrade);
      // Operations in flight finish (their results and `complete` are sent) or the deadline passes.
      while (Date.now() < deadline && [...contexts].some((ctx) => Object.keys(ctx.subscriptions).length > 0)) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const cut = setTimeout(() => sockets.clients.forEach((socket) => socket.terminate()), Math.max(0, deadline - Date.now()));
      await graphqlWs.dispose();
      clearTimeout(cut);
    },
  };
}

/**
 * Errors meant for HTTP carry the status and headers Yoga answers with in `extensions.http`; Yoga
 * strips them from the body, and so does this path, which has no status to set.
 */
function withoutHttpDetails(result: ExecutionResult): ExecutionResult | FormattedExecutionResult {
  if (!result.errors?.some((error) => error.extensions?.http !== undefined)) return result;
  return { ...result, errors: result.errors.map(formatWithoutHttpDetails) };
}

function formatWithoutHttpDetails(error: GraphQLError): GraphQLFormattedError {
  const formatted = error.toJSON();
  if (formatted.extensions?.http === undefined) return formatted;
  const { http: _, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}

type Enveloped = { execute: (args: ExecutionArgs) => OperationResult; subscribe: (args: ExecutionArgs) => OperationResult };

function refuseUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
