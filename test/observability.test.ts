import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultObservability, defaultQueue } from '../src/config.js';
import { MAX_OPERATION_NAMES } from '../src/observability/metrics.js';
import { createLogger } from '../src/observability/logger.js';
import { sqlite } from './helpers/databases.js';
import { startServerProcess } from './helpers/processes.js';
import { graphqlRequest } from './helpers/graphql.js';
import { randomItems, submit } from './helpers/jobs.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';
import { waitFor } from './helpers/wait-for.js';
import { connectWs, wsOperation } from './helpers/graphql-ws.js';
import WebSocket from 'ws';

const run = promisify(execFile);

type LogLine = Record<string, any> & { level: string; msg: string };

/** A test app whose log lines are kept, parsed. */
async function serveWithLog(options: Parameters<typeof serveTestApp>[1] = {}) {
  const lines: LogLine[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line) => void lines.push(JSON.parse(line) as LogLine) } });
  const served = await serveTestApp(sqlite, { logger, ...options });
  return { served, lines };
}

const transfer = 'mutation Pay($from: ID!, $to: ID!, $amount: Int!) { transfer(fromId: $from, toId: $to, amount: $amount) { from { balance } } }';

describe('request ids and the log', () => {
  let served: ServedTestApp;
  let lines: LogLine[];
  beforeAll(async () => {
    ({ served, lines } = await serveWithLog({
      // A bug of the server's: the bank throws what it never throws on purpose.
      plugins: [{ onContextBuilding: ({ extendContext }) => extendContext({ bank: { transfer: () => Promise.reject(new TypeError('the bank is broken')) } } as never) }],
    }));
  });
  afterAll(() => served.close());
  const post = (query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) =>
    fetch(`${served.server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  const lineOf = (reqId: string) => waitFor(async () => lines.some((line) => line.reqId === reqId && line.status !== undefined)).then(() => lines.filter((line) => line.reqId === reqId));

  it("keeps a valid x-request-id, echoes it, and logs one line with the operation's name, type, status and duration", async () => {
    const response = await post('query Greeting { hello(delayMs: 0) }', undefined, { 'x-request-id': 'trace-me-42' });
    expect(response.headers.get('x-request-id')).toBe('trace-me-42');
    await response.text();
    const [line, ...others] = await lineOf('trace-me-42');
    expect(others).toEqual([]);
    expect(line).toMatchObject({ level: 'info', method: 'POST', path: '/graphql', status: 200, operation: 'query', operationName: 'Greeting' });
    expect(line!.ms).toBeGreaterThan(0);
  });

  it('makes a new id when the one sent is not a plausible id, rather than echo it', async () => {
    for (const sent of ['has spaces and "quotes"', 'x'.repeat(200)]) {
      const response = await post('{ hello(delayMs: 0) }', undefined, { 'x-request-id': sent });
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      await response.text();
    }
  });

  it("logs a client's mistake at info level with its code, not as a server error", async () => {
    const response = await post('{ hello(delayMs: -1) }', undefined, { 'x-request-id': 'bad-input' });
    await response.text();
    const [line] = await lineOf('bad-input');
    expect(line).toMatchObject({ level: 'info', errorCodes: ['BAD_USER_INPUT'] });
    expect(lines.filter((each) => each.level === 'error')).toEqual([]);
  });

  it("logs an unexpected error once, at error level, with the request's id and its stack; the client sees it masked", async () => {
    const response = await post(transfer, { from: '1', to: '2', amount: 1 }, { 'x-request-id': 'broken-bank' });
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    const forRequest = await lineOf('broken-bank');
    const errors = forRequest.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.err.message).toBe('the bank is broken');
    expect(errors[0]!.err.stack).toMatch(/\n\s+at /);
    // Yoga's own line, without the id, is not written as well.
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.filter((line) => line.level === 'error' && line.reqId === undefined)).toEqual([]);
  });
});

describe('the log of a server process', () => {
  it('writes a JSON line on stdout for each request, with the id it answered, whichever way the line was written, and all of them by the time it exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-lines-'));
    const server = await startServerProcess({ DATABASE_URL: `file:${join(dir, 'db.sqlite')}`, QUEUE_CONCURRENCY: '0', LOG_LEVEL: 'info' });
    const ids: string[] = [];
    const body = JSON.stringify({ query: 'query Greeting { hello(delayMs: 0) }' });
    // More lines than one batch holds, and now and then another path (a 404's line).
    const other = new URL('/gr"aph-é', server.url).pathname;
    for (let n = 0; n < 600; n += 1) {
      const path = n % 100 === 0 ? other : '/graphql';
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      ids.push(response.headers.get('x-request-id')!);
      await response.arrayBuffer();
    }
    server.child.kill('SIGTERM');
    const { code, stdout } = await server.exited;
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as LogLine);
    const requests = lines.filter((line) => line.reqId !== undefined && line.status !== undefined);
    expect(requests.map((line) => line.reqId)).toEqual(ids);
    expect(requests[1]).toMatchObject({ level: 'info', method: 'POST', path: '/graphql', status: 200, operation: 'query', operationName: 'Greeting', msg: 'POST /graphql 200' });
    expect(requests[0]).toMatchObject({ path: other, status: 404, msg: `POST ${other} 404` });
    expect(lines.at(-1)!.msg).toBe('Stopped cleanly.');
  }, 60_000);
});

describe('WebSocket operations in the log and metrics', () => {
  it('gives each socket the id of its upgrade request (echoed with the 101) and each operation a line with its id, type, name, duration and error codes', async () => {
    const { served, lines } = await serveWithLog();
    const wsUrl = `${served.server.url.replace(/^http/, 'ws')}/graphql`;
    // The 101 carries the socket's id: the one sent, when plausible.
    const upgraded = await new Promise<string | undefined>((resolve, reject) => {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { headers: { 'x-request-id': 'socket-7' } });
      socket.on('upgrade', (response) => resolve(response.headers['x-request-id'] as string | undefined));
      socket.on('open', () => socket.close());
      socket.on('error', reject);
    });
    expect(upgraded).toBe('socket-7');

    const client = connectWs(served.server.url);
    try {
      expect(await wsOperation(client, { query: 'query Greeting { hello(delayMs: 0) }' })).toEqual([{ data: { hello: 'Hello, World' } }]);
      expect((await wsOperation(client, { query: '{ hello(delayMs: -1) }' }))[0]!.errors).toBeDefined();
      expect((await wsOperation(client, { query: '{ nope }' }))[0]!.errors).toBeDefined();
      const wsLines = () => lines.filter((line) => line.method === 'WS');
      await waitFor(async () => wsLines().length === 3);
      const [greeting, badInput, invalid] = wsLines();
      expect(greeting).toMatchObject({ level: 'info', path: '/graphql', operation: 'query', operationName: 'Greeting', msg: 'WS /graphql query' });
      expect(greeting!.ms).toBeGreaterThan(0);
      expect(greeting!.errorCodes).toBeUndefined();
      expect(badInput).toMatchObject({ operation: 'query', errorCodes: ['BAD_USER_INPUT'] });
      expect(invalid).toMatchObject({ errorCodes: ['GRAPHQL_VALIDATION_FAILED'], msg: 'WS /graphql refused' });
      // One socket: its operations share its id, numbered.
      const [socketId] = greeting!.reqId.split('.');
      expect([greeting, badInput, invalid].map((line) => line!.reqId)).toEqual([1, 2, 3].map((n) => `${socketId}.${n}`));
      const metrics = await (await fetch(`${served.server.url}/metrics`)).text();
      expect(metrics).toMatch(/^graphql_operations_total\{type="query",name="Greeting"\} 1$/m);
      expect(metrics).toMatch(/^graphql_errors_total\{code="BAD_USER_INPUT"\} 1$/m);
    } finally {
      await client.dispose();
      await served.close();
    }
  });
});

describe('WebSocket operations that end before they start', () => {
  it('keep no record of an operation its client completed in the same packet as its refused subscribe', async () => {
    const { served, lines } = await serveWithLog();
    const socket = new WebSocket(`${served.server.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
        socket.on('message', (data) => (JSON.parse(String(data)).type === 'connection_ack' ? resolve() : undefined));
        socket.on('error', reject);
      });
      // Each pair in one write, so that the server reads the complete before the refusal is sent.
      const tcp = (socket as unknown as { _socket: import('node:net').Socket })._socket;
      for (let n = 0; n < 50; n += 1) {
        tcp.cork();
        socket.send(JSON.stringify({ id: `op${n}`, type: 'subscribe', payload: { query: '{ nope }' } }));
        socket.send(JSON.stringify({ id: `op${n}`, type: 'complete' }));
        tcp.uncork();
      }
      // Each ends at once, with its line and its code, while the socket stays open.
      await waitFor(async () => lines.filter((line) => line.method === 'WS').length === 50);
      expect(lines.filter((line) => line.method === 'WS').every((line) => line.aborted === undefined && line.errorCodes?.[0] === 'GRAPHQL_VALIDATION_FAILED')).toBe(true);
    } finally {
      socket.close();
      await served.close();
    }
  });
});

describe('metrics', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(sqlite);
  });
  afterAll(() => served.close());
  const scrape = async (url = `${served.server.url}/metrics`) => {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  it('serves the process, HTTP, GraphQL and lock metrics on GET /metrics', async () => {
    const url = `${served.server.url}/graphql`;
    await graphqlRequest(fetch, url, 'query Greeting { hello(delayMs: 0) }');
    await graphqlRequest(fetch, url, '{ hello(delayMs: -1) }');
    await graphqlRequest(fetch, url, 'mutation Bump { increment(name: "metrics") { value } }');
    const text = await scrape();
    for (const expected of [
      /^process_cpu_seconds_total \d/m,
      /^nodejs_eventloop_lag_p99_seconds \d/m,
      /^nodejs_heap_size_used_bytes \d/m,
      /^http_request_duration_seconds_count\{status_class="2xx"\} [3-9]/m,
      /^http_requests_in_flight 1$/m, // the scrape itself
      /^graphql_operations_total\{type="query",name="Greeting"\} 1$/m,
      /^graphql_operations_total\{type="mutation",name="Bump"\} 1$/m,
      /^graphql_errors_total\{code="BAD_USER_INPUT"\} 1$/m,
      /^lock_wait_seconds_count\{kind="key"\} 1$/m,
      /^lock_wait_seconds_count\{kind="connection"\} 1$/m,
    ]) {
      expect(text).toMatch(expected);
    }
  });

  it('counts the garbage collections by kind, with their durations', async () => {
    const minor = (text: string) => Number(/^nodejs_gc_duration_seconds_count\{kind="minor"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const before = minor(await scrape());
    // About 100 MB of short-lived objects in this process (the server's): young collections, several.
    let kept: object[] = [];
    for (let n = 0; n < 2_000_000; n++) {
      kept.push({ n, text: `garbage ${n}` });
      if (kept.length === 1000) kept = [];
    }
    const after = await scrape();
    expect(minor(after)).toBeGreaterThan(before);
    expect(Number(/^nodejs_gc_duration_seconds_sum\{kind="minor"\} (\S+)$/m.exec(after)?.[1])).toBeGreaterThan(0);
  });

  it(`keeps at most ${MAX_OPERATION_NAMES} operation names as labels, whatever clients name their operations`, async () => {
    const url = `${served.server.url}/graphql`;
    for (let batch = 0; batch < 3; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, index) => graphqlRequest(fetch, url, `query Name${batch}_${index} { hello(delayMs: 0) }`)));
    }
    const series = (await scrape()).split('\n').filter((line) => line.startsWith('graphql_operations_total{'));
    expect(series.length).toBeLessThanOrEqual(MAX_OPERATION_NAMES + 2);
    expect(series.some((line) => line.includes('name="_other"'))).toBe(true);
  });

  it('serves them on a port of their own with METRICS_PORT, and not on the API port', async () => {
    const separate = await serveTestApp(sqlite, { config: { observability: { ...defaultObservability, metricsPort: 0 } } });
    try {
      expect(separate.server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(await scrape(separate.server.metricsUrl)).toMatch(/^process_cpu_seconds_total/m);
      expect((await fetch(`${separate.server.url}/metrics`)).status).toBe(404);
    } finally {
      await separate.close();
    }
  });

  it("counts the queue's items by status, their attempts and durations, the jobs' durations, and the items still active", async () => {
    const working = await serveTestApp(sqlite, { config: { queue: { ...defaultQueue, concurrency: 2 } } });
    try {
      const submitted = await working.app.request(submit, { items: randomItems(20, 10) });
      const jobId = submitted.body.data?.submitTransfers.id as string;
      const status = async () => (await working.app.request('query ($id: ID!) { job(id: $id) { status } }', { id: jobId })).body.data?.job.status;
      await waitFor(async () => (await status()) === 'SUCCEEDED');
      const text = await scrape(`${working.server.url}/metrics`);
      expect(text).toMatch(/^queue_items_done_total\{status="SUCCEEDED"\} 20$/m);
      expect(text).toMatch(/^queue_item_attempts_count 20$/m);
      expect(text).toMatch(/^queue_item_duration_seconds_count 20$/m);
      expect(text).toMatch(/^queue_job_duration_seconds_count\{status="SUCCEEDED"\} 1$/m);
      expect(text).toMatch(/^queue_items_active 0$/m);
    } finally {
      await working.close();
    }
  });

  it('serves none with METRICS=false', async () => {
    const off = await serveTestApp(sqlite, { config: { observability: { ...defaultObservability, metrics: false } } });
    try {
      expect((await fetch(`${off.server.url}/metrics`)).status).toBe(404);
      expect(off.app.observability.metrics).toBeUndefined();
    } finally {
      await off.close();
    }
  });
});

describe('tracing, when off', () => {
  const loadedPackages = async (env: Record<string, string>) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--import', './test/helpers/module-recorder.mjs', 'test/helpers/loaded-packages.ts'], {
      env: { ...process.env, DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent', QUEUE_CONCURRENCY: '0', ...env },
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[];
  };

  it('loads nothing of the OpenTelemetry SDK without OTEL_EXPORTER_OTLP_ENDPOINT (only the no-op API)', async () => {
    const [off, on] = await Promise.all([loadedPackages({}), loadedPackages({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' })]);
    expect(off.filter((name) => name.startsWith('@opentelemetry/'))).toEqual(['@opentelemetry/api']);
    expect(on).toContain('@opentelemetry/sdk-trace-node');
  }, 180_000);
});

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(sqlite, { spanExporter: exporter });
  });
  afterAll(() => served.close());

  it("makes one span tree per request, under the client's traceparent: request → parse, validate, execute → lock waits and statements", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpanId = '00f067aa0ba902b7';
    const response = await fetch(`${served.server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${clientSpanId}-01` },
      body: JSON.stringify({ query: transfer, variables: { from: '1', to: '2', amount: 5 } }),
    });
    expect(await response.json()).toMatchObject({ data: { transfer: { from: { balance: expect.any(Number) } } } });
    await waitFor(async () => exporter.getFinishedSpans().some((span) => span.name === 'POST /graphql'));
    const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    const named = (name: string) => spans.filter((span) => span.name === name);
    const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

    const [request] = named('POST /graphql');
    expect(request).toBeDefined();
    expect(parentOf(request!)).toBe(clientSpanId);
    expect(request!.attributes).toMatchObject({ 'http.response.status_code': 200, 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Pay' });
    const requestId = request!.spanContext().spanId;
    for (const phase of ['graphql.parse', 'graphql.validate', 'graphql.execute']) {
      expect(named(phase).map(parentOf), phase).toEqual([requestId]);
    }
    const executeId = named('graphql.execute')[0]!.spanContext().spanId;
    const waits = named('lock.wait');
    expect(waits.map((span) => span.attributes['lock.kind']).sort()).toEqual(['connection', 'key']);
    const statements = named('db.query');
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.some((span) => /update/i.test(String(span.attributes['db.query.text'])))).toBe(true);
    for (const span of [...waits, ...statements]) expect(parentOf(span)).toBe(executeId);
  });
});
