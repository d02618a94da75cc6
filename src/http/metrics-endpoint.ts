import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * GET /metrics: the Prometheus text exposition. Its size is bounded by the metrics' bounded label
 * sets (src/observability/metrics.ts), a few tens of kilobytes.
 */
export function serveMetrics(metrics: Metrics, res: ServerResponse, logger: Logger): void {
  metrics.scrape().then(
    ({ body, contentType }) => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
    (error: unknown) => {
      logger.error({ err: error }, 'Could not collect the metrics');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    },
  );
}

/**
 * /metrics on a port of its own (METRICS_PORT), so that the API's port can be public while the
 * metrics are reached only from inside (a firewall or a Kubernetes port that is not exposed).
 * Answers GET /metrics and nothing else.
 */
export async function listenForMetrics(metrics: Metrics, { port, host, logger }: { port: number; host: string; logger: Logger }): Promise<{ server: Server; port: number }> {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') return serveMetrics(metrics, res, logger);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Only GET /metrics is served on this port.\n');
  });
  // A handful of scrapers, not the public: a small bound on connections.
  server.maxConnections = 64;
  server.listen(port, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}
