import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { createYoga, type Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/http/server.js';
import { safeForFastPath } from '../src/http/fast-path-plugins.js';
import { useGraphiQLPage } from '../src/graphql/plugins/graphiql-page.js';
import { schema } from '../src/graphql/schema/index.js';
import { databases } from './helpers/databases.js';
import { countdown } from './helpers/deferred.js';
import { createTestApp, graphqlRequest } from './helpers/graphql.js';
import { progress, randomItems, submit } from './helpers/jobs.js';
import { run } from './helpers/processes.js';
import { serve, serveTestApp, type ServedTestApp } from './helpers/server.js';
import { subscribe } from './helpers/sse.js';

describe('the HTTP server', () => {
  let served: ServedTestApp;
  let server: RunningServer;
  beforeAll(async () => {
    served = await serveTestApp(databases[0]!);
    server = served.server;
  });
  afterAll(() => served.close());

  it('serves GraphiQL with its scripts inline, so it works without internet access', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('YogaGraphiQL.renderYogaGraphiQL');
    expect(html).toContain('A non-blocking delay');
    // Nothing is loaded from another host: no external scripts, styles or icons.
    expect(html).not.toMatch(/<(script|link|img)\b[^>]*\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import\s+url\(["']?(https?:)?\/\//i);
  });

  it('serves GraphiQL compressed as the browser asks, with an ETag that spares a second download', async () => {
    const load = (headers: Record<string, string>) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        httpGet(`${server.url}/graphql`, { headers: { accept: 'text/html', ...headers } }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
    const plain = await load({});
    expect(plain.status).toBe(200);
    expect(plain.headers).toMatchObject({ 'cache-control': 'no-cache', vary: 'Accept-Encoding', 'content-length': String(plain.body.length) });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toContain('A non-blocking delay');

    const br = await load({ 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    const gzip = await load({ 'accept-encoding': 'gzip, br;q=0' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
    expect(br.body.length).toBeLessThan(plain.body.length / 3);
    expect(new Set([plain.headers.etag, br.headers.etag, gzip.headers.etag]).size).toBe(3);

    const again = await load({ 'accept-encoding': 'gzip, br', 'if-none-match': br.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(br.headers.etag);
    // A page of another version (another ETag) is sent whole.
    expect((await load({ 'if-none-match': '"older"' })).status).toBe(200);
  });

  it('renders GraphiQL once, however many browsers load it at once', async () => {
    let renders = 0;
    const yoga = createYoga({ schema, graphiql: false, logging: false, plugins: [useGraphiQLPage(async () => `<html>${++renders}</html>`)] });
    const load = async () => (await yoga.fetch('http://yoga/graphql', { headers: { accept: 'text/html' } })).text();
    const pages = await Promise.all(Array.from({ length: 20 }, load));
    expect(renders).toBe(1);
    expect(new Set(pages)).toEqual(new Set(['<html>1</html>']));
    await yoga.dispose();
  });

  it('answers the health check', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('answers GET queries and refuses mutations over GET', async () => {
    const query = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ hello(delayMs: 0) }')}`, { headers: { accept: 'application/json' } });
    expect(await query.json()).toEqual({ data: { hello: 'Hello, World' } });
    const mutation = await fetch(`${server.url}/graphql?query=${encodeURIComponent('mutation { increment(name: "get") { value } }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(mutation.status).toBe(405);
  });
});

describe('graceful shutdown', () => {
  it('lets requests in flight finish, refuses new connections, then closes', async () => {
    const started = countdown(3);
    const observe: Plugin = safeForFastPath({ onExecute: () => started.tick() });
    const app = await createTestApp(databases[0]!, { plugins: [observe] });
    const server = await serve(app);
    const inFlight = Array.from({ length: 3 }, () => graphqlRequest(fetch, `${server.url}/graphql`, '{ hello(delayMs: 300) }'));
    await started.promise;

    const stopped = server.shutdown(10_000);
    const results = await Promise.all(inFlight);
    expect(results.map(({ status, body }) => [status, body.data?.hello])).toEqual(Array(3).fill([200, 'Hello, World']));
    await stopped;
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    await app.dispose();
  });

  it('completes open subscription streams at once', async () => {
    const app = await createTestApp(databases[0]!);
    const server = await serve(app);
    // No workers run in this app, so the job never moves: only the shutdown can end the stream.
    const { body } = await graphqlRequest(fetch, `${server.url}/graphql`, submit, { items: randomItems(3, 10) });
    const firstEvent = countdown(1);
    const stream = subscribe(fetch, `${server.url}/graphql`, progress, { id: body.data?.submitTransfers.id }, () => firstEvent.tick());
    await firstEvent.promise;
    const startedAt = performance.now();
    await server.shutdown(10_000);
    expect(performance.now() - startedAt).toBeLessThan(2_000);
    expect((await stream).map((event) => event.event)).toEqual(['next', 'complete']);
    await app.dispose();
  });

  it('aborts the requests still running at the bound', async () => {
    const started = countdown(1);
    const app = await createTestApp(databases[0]!, { plugins: [safeForFastPath({ onExecute: () => started.tick() })] });
    const server = await serve(app);
    const slow = graphqlRequest(fetch, `${server.url}/graphql`, '{ hello(delayMs: 10000) }').catch((error: Error) => error);
    await started.promise;
    const startedAt = performance.now();
    await server.shutdown(200);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    expect(await slow).toBeInstanceOf(Error);
    await app.dispose();
  });
});

describe('the server process', () => {
  it.each([
    [{ PORT: 'abc' }, 'Configuration error: PORT must be a whole number from 0 to 65535; got "abc".'],
    [{ DATABASE_URL: 'mysql://localhost/db' }, 'Configuration error: DATABASE_URL "mysql://localhost/db" is not understood.'],
    [{ DATABASE_URL: 'postgres://localhost' }, 'Configuration error: DATABASE_URL needs a host and a database name'],
  ])('refuses %o with a clear message and a non-zero exit, not a stack trace', async (env, message) => {
    const { code, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], env).exited;
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says so plainly when the database cannot be reached at start', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const { code, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' }).exited;
    expect(code).toBe(1);
    expect(stderr).toContain('Cannot reach the database');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
