import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases } from './helpers/databases.js';
import { countdown } from './helpers/deferred.js';
import { createTestApp, errorCodes, graphqlRequest, type TestApp } from './helpers/graphql.js';
import { serve } from './helpers/server.js';
import type { RunningServer } from '../src/http/server.js';
import { safeForFastPath } from '../src/http/fast-path-plugins.js';

const activeTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('hello', () => {
  const started = { current: countdown(0) };
  const aborted = { current: countdown(0) };
  // Tells the test when requests have reached the resolver and when their signals have aborted.
  // Marked safe, so that the server keeps its fast path, whose cancellation this checks too.
  const observe: Plugin = safeForFastPath({
    onExecute({ args }) {
      const { request } = args.contextValue as { request: Request };
      request.signal.addEventListener('abort', () => aborted.current.tick(), { once: true });
      started.current.tick();
    },
  });
  let app: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!, { plugins: [observe] });
    server = await serve(app);
  });
  afterAll(async () => {
    await server.shutdown(0);
    await app.dispose();
  });

  it('greets the world by default, after the default delay of one second', async () => {
    const startedAt = performance.now();
    const { status, body } = await app.request('{ hello }');
    expect(status).toBe(200);
    expect(body).toEqual({ data: { hello: 'Hello, World' } });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(990);
  });

  it('greets by name', async () => {
    const { body } = await app.request('{ hello(name: "Ada", delayMs: 0) }');
    expect(body.data).toEqual({ hello: 'Hello, Ada' });
  });

  it.each([-1, 10_001])('refuses delayMs %i with BAD_USER_INPUT naming the argument and the range', async (delayMs) => {
    const { body } = await app.request('query ($d: Int!) { hello(delayMs: $d) }', { d: delayMs });
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors?.[0]?.message).toBe(`delayMs must be between 0 and 10000; got ${delayMs}.`);
  });

  it('serves hundreds of concurrent slow greetings in about one delay, not their sum', async () => {
    const count = 300;
    const startedAt = performance.now();
    const results = await Promise.all(
      Array.from({ length: count }, () => graphqlRequest(fetch, `${server.url}/graphql`, '{ hello(delayMs: 500) }')),
    );
    const elapsed = performance.now() - startedAt;
    expect(results.every(({ body }) => body.data?.hello === 'Hello, World')).toBe(true);
    // Serially they would take 150 s; concurrently about 0.5 s. The bound is generous for slow machines.
    expect(elapsed).toBeLessThan(5_000);
  });

  it('cancels the timers of clients that disconnect, so an abandoned wait costs nothing more', async () => {
    const count = 200;
    const baseline = activeTimers();
    started.current = countdown(count);
    aborted.current = countdown(count);
    const clients = Array.from({ length: count }, () => new AbortController());
    const requests = clients.map((client) =>
      graphqlRequest(fetch, `${server.url}/graphql`, '{ hello(delayMs: 10000) }', undefined, { signal: client.signal }).catch((error: Error) => error),
    );
    await started.current.promise;
    await new Promise((resolve) => setImmediate(resolve));
    // A few unrelated timers may come and go meanwhile (HTTP keep-alive): a slack of 10.
    expect(activeTimers()).toBeGreaterThanOrEqual(baseline + count - 10);

    for (const client of clients) client.abort();
    expect((await Promise.all(requests)).every((result) => result instanceof Error)).toBe(true);
    await aborted.current.promise;
    await new Promise((resolve) => setImmediate(resolve));
    // Every 10 s timer is gone well before it would have fired.
    expect(activeTimers()).toBeLessThan(baseline + 10);
  });
});
