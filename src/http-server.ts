import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from './app.js';

export type RunningServer = {
  server: Server;
  /** http://HOST:PORT, with the port the OS gave when asked for port 0. */
  url: string;
  /**
   * Stops accepting connections and completes open subscriptions at once; lets the requests in
   * flight and the queue's running items finish for up to `timeoutMs`; aborts the requests still
   * running at the bound (their clients' sockets are closed, so their signals abort); then closes
   * the app (Yoga's plugins, the database). Resolves when everything is closed.
   */
  shutdown(timeoutMs: number): Promise<void>;
};

/** Serves the app over HTTP/1.1 with its request listener (Yoga, behind the fast path). */
export async function listen(app: App, { port, host }: { port: number; host: string }): Promise<RunningServer> {
  const server = createServer(app.requestListener);
  let closing = false;
  server.on('request', (_req, res) => {
    res.once('close', () => {
      // Keep-alive connections go idle after their last response; during a shutdown, drop them then.
      if (closing) server.closeIdleConnections();
    });
  });

  server.listen(port, host);
  await once(server, 'listening');
  const { port: actualPort } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (timeoutMs: number) =>
    (shuttingDown ??= (async () => {
      closing = true;
      const deadline = Date.now() + timeoutMs;
      app.beginShutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      await closed;
      clearTimeout(timer);
      await app.close(Math.max(0, deadline - Date.now()));
    })());

  return { server, url, shutdown };
}
