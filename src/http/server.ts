import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { App } from '../app.js';
import type { HttpConfig } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { serveGraphQLOverWebSocket, type GraphQLWsServer } from '../ws/graphql-ws-server.js';
import { ShuttingDownError } from './errors.js';
import { FastHeadersIncomingMessage } from './incoming-headers.js';
import { listenForMetrics } from './metrics-endpoint.js';
import { createPipeliningLimit } from './pipelining.js';
import { refuse } from './refuse.js';
import { dropSlowReaders } from './slow-readers.js';

export type RunningServer = {
  server: Server;
  /** http://HOST:PORT, with the port the OS gave when asked for port 0. */
  url: string;
  /** Where the metrics are served when METRICS_PORT gives them a port of their own. */
  metricsUrl?: string;
  /** graphql-ws on the same port and path, for tests and diagnostics. */
  webSockets: GraphQLWsServer;
  /**
   * Stops accepting connections and completes open subscriptions at once; answers requests that
   * arrive from then on with 503 SHUTTING_DOWN; lets the requests in flight and the queue's running
   * items finish for up to `timeoutMs`; aborts the requests still running at the bound (their
   * clients' sockets are closed, so their signals abort); then closes the app (Yoga's plugins, the
   * database). Resolves when everything is closed.
   */
  shutdown(timeoutMs: number): Promise<void>;
};

/**
 * Serves the app over HTTP/1.1 with its request listener (Yoga, behind the fast path), within the
 * bounds of `http` (by default the app's configuration): connections, timeouts, slow readers.
 */
export async function listen(app: App, { port, host, http = app.config.http }: { port: number; host: string; http?: HttpConfig }): Promise<RunningServer> {
  let closing = false;
  const withinPipelining = createPipeliningLimit(http.maxPipelinedRequests);
  const server = createServer(
    {
      // Node builds every request's headers object; this one builds the same object for less (incoming-headers.ts).
      IncomingMessage: FastHeadersIncomingMessage,
      // A client must send its headers, then its whole request, within these bounds (node answers
      // 408 and closes): slow senders cannot hold a connection and a partly received body for long.
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      // How often node looks for requests past those bounds (30 s by default, which would let a
      // 10 s bound run to 40 s).
      connectionsCheckingInterval: Math.min(1_000, http.headersTimeoutMs / 2),
      keepAliveTimeout: http.keepAliveTimeoutMs,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      if (!withinPipelining(req, res)) return;
      if (!closing) return app.requestListener(req, res);
      // Not run: the client is told so, and to try again (another replica, or this one restarted).
      refuse(res, 503, new ShuttingDownError(), { close: true, retryAfterSeconds: 1 });
    },
  );
  // Past this, node closes new connections as it accepts them: each costs a file descriptor and
  // memory, and at the process's limit of open files accept() would fail for every client.
  server.maxConnections = http.maxConnections;
  // Upgraded sockets stay the server's: counted against maxConnections, and watched for slow readers.
  const slowReaders = dropSlowReaders(server, { sendTimeoutMs: http.sendTimeoutMs, maxQueuedBytes: http.maxQueuedResponseBytes });
  const webSockets = serveGraphQLOverWebSocket(server, app.graphqlWs);

  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    slowReaders.stop();
    throw error;
  }
  // After listen: a failure to listen must still reject above, not be taken for a refused connection.
  const refusedConnections = logRefusedConnections(server, http.maxConnections, app.observability.logger);
  const { port: actualPort } = server.address() as AddressInfo;
  const url = httpUrl(host, actualPort);
  const { metrics, logger } = app.observability;
  const metricsPort = app.config.observability.metricsPort;
  const metricsServer =
    metrics && metricsPort !== undefined
      ? await listenForMetrics(metrics, { port: metricsPort, host, logger }).catch((error: unknown) => {
          server.close();
          slowReaders.stop();
          refusedConnections.stop();
          throw error;
        })
      : undefined;

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (timeoutMs: number) =>
    (shuttingDown ??= (async () => {
      closing = true;
      const deadline = Date.now() + timeoutMs;
      app.beginShutdown();
      // Connections the kernel has accepted but node has not yet (the event loop was busy) would be
      // reset by closing the listening socket now: their clients could not tell whether their
      // requests were received. So node is first let accept them, and read their requests, which
      // get 503 SHUTTING_DOWN above; then the socket is closed.
      await acceptPending(server, Math.min(deadline, Date.now() + MAX_ACCEPT_DRAIN_MS));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections go idle as their last response ends: close them then.
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const timer = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
      // WebSockets are not the HTTP server's to close (closeAllConnections skips them), and `closed`
      // waits for them: their subscriptions completed above, they close with 1001 once their
      // operations in flight have answered.
      await webSockets.close(deadline);
      await closed;
      clearInterval(idle);
      clearTimeout(timer);
      slowReaders.stop();
      refusedConnections.stop();
      await app.close(Math.max(0, deadline - Date.now()));
      // Last: the metrics stay readable while the server drains.
      if (metricsServer) {
        metricsServer.server.closeAllConnections();
        await new Promise((resolve) => metricsServer.server.close(resolve));
      }
    })());

  return { server, url, metricsUrl: metricsServer && `${httpUrl(host, metricsServer.port)}/metrics`, webSockets, shutdown };
}

/** http://HOST:PORT, with an IPv6 host in brackets. */
const httpUrl = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

/** How long a shutdown may go on accepting connections that keep arriving, to answer them 503. */
const MAX_ACCEPT_DRAIN_MS = 1_000;

/**
 * Turns the event loop until a turn accepts no connection (or `deadline`), then once more so that
 * the last ones' requests are read. Node (libuv 1.46) accepts one pending connection per poll for
 * I/O, that is per turn of its event loop, so a backlog of 50 takes 50 turns: each is short, and
 * with an immediate pending the poll does not wait. The first turn only reaches the next poll (the
 * caller may run within a poll phase, whose accept has happened), so it is not counted.
 */
async function acceptPending(server: Server, deadline: number): Promise<void> {
  let accepted = 0;
  const count = () => void (accepted += 1);
  server.on('connection', count);
  await nextTurn();
  do {
    accepted = 0;
    await nextTurn();
  } while (accepted > 0 && Date.now() < deadline);
  server.off('connection', count);
  await nextTurn();
}

/**
 * One line every 10 s at most while connections are refused (over MAX_CONNECTIONS, or accept()
 * failing: out of file descriptors), never one per connection: a flood must not flood the log too.
 * An accept() error is otherwise an 'error' event on the server, which would end the process.
 */
function logRefusedConnections(server: Server, maxConnections: number, logger: Logger): { stop(): void } {
  let refused = 0;
  let acceptErrors = 0;
  let lastError = '';
  const report = setInterval(() => {
    if (refused > 0) logger.warn(`Refused ${refused} connections in the last 10 s: MAX_CONNECTIONS (${maxConnections}) open already.`);
    if (acceptErrors > 0) logger.warn(`Could not accept ${acceptErrors} connections in the last 10 s: ${lastError}.`);
    refused = 0;
    acceptErrors = 0;
  }, 10_000).unref();
  const onDrop = () => void (refused += 1);
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.syscall !== 'accept') throw error;
    acceptErrors += 1;
    lastError = error.code ?? error.message;
  };
  server.on('drop', onDrop);
  server.on('error', onError);
  return {
    stop() {
      clearInterval(report);
      server.off('drop', onDrop);
      server.off('error', onError);
    },
  };
}
