import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { writeCounter } from '../src/db/counters.js';
import type { RunningServer } from '../src/http/server.js';
import { databases } from './helpers/databases.js';
import { deferred } from '../src/deferred.js';
import { createTestApp, errorCodes, graphqlRequest, testConfig, type TestApp } from './helpers/graphql.js';
import { noLocks, observeLocks } from './helpers/locks.js';
import { serve } from './helpers/server.js';

const increment = 'mutation ($name: String!, $by: Int! = 1, $workMs: Int! = 0) { increment(name: $name, by: $by, workMs: $workMs) { name value } }';
const readCounter = 'query ($name: String!) { counter(name: $name) { name value } }';

describe.each(databases)('counters on $name', (database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(database);
  });
  afterAll(() => app.dispose());

  const valueOf = async (name: string) => (await app.request(readCounter, { name })).body.data?.counter.value as number;

  it('reads 0 for a counter never incremented', async () => {
    expect((await app.request(readCounter, { name: 'fresh' })).body).toEqual({ data: { counter: { name: 'fresh', value: 0 } } });
  });

  it('adds `by` and returns the new value', async () => {
    expect((await app.request(increment, { name: 'steps', by: 5 })).body.data?.increment).toEqual({ name: 'steps', value: 5 });
    expect((await app.request(increment, { name: 'steps', by: -7 })).body.data?.increment).toEqual({ name: 'steps', value: -2 });
    expect((await app.request(increment, { name: 'steps' })).body.data?.increment.value).toBe(-1);
  });

  it('never loses an increment under concurrent requests', async () => {
    const count = 200;
    const results = await Promise.all(Array.from({ length: count }, () => app.request(increment, { name: 'hits', workMs: 2 })));
    expect(results.every(({ body }) => !body.errors)).toBe(true);
    expect(await valueOf('hits')).toBe(count);
    // Every request saw a different value: they ran one after another.
    expect(new Set(results.map(({ body }) => body.data?.increment.value)).size).toBe(count);
  });

  it.each([
    [{ name: '', by: 1, workMs: 0 }, 'name must be 1 to 100 characters long; got 0.'],
    [{ name: 'x'.repeat(101), by: 1, workMs: 0 }, 'name must be 1 to 100 characters long; got 101.'],
    [{ name: 'c', by: 1_000_001, workMs: 0 }, 'by must be between -1000000 and 1000000; got 1000001.'],
    [{ name: 'c', by: -1_000_001, workMs: 0 }, 'by must be between -1000000 and 1000000; got -1000001.'],
    [{ name: 'c', by: 1, workMs: 5001 }, 'workMs must be between 0 and 5000; got 5001.'],
    [{ name: 'c', by: 1, workMs: -1 }, 'workMs must be between 0 and 5000; got -1.'],
  ])('refuses %o with BAD_USER_INPUT and changes nothing', async (variables, message) => {
    const { status, body } = await app.request(increment, variables);
    expect(status).toBe(200);
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors?.[0]?.message).toBe(message);
    expect(await valueOf('c')).toBe(0);
  });

  it('refuses an increment that would leave the 32-bit Int range, and changes nothing', async () => {
    // 2,147 increments of a million would take it there; written directly, the test stays quick.
    await writeCounter(app.db, 'big', 2_147_000_000);
    expect(await valueOf('big')).toBe(2_147_000_000);
    const { body } = await app.request(increment, { name: 'big', by: 483_648 });
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors?.[0]?.message).toMatch(/^by: adding 483648 would take counter "big" outside the 32-bit Int range/);
    expect(await valueOf('big')).toBe(2_147_000_000);
    expect((await app.request(increment, { name: 'big', by: 483_647 })).body.data?.increment.value).toBe(2_147_483_647);
  });

  it('keeps counters in the database across restarts', async () => {
    await app.request(increment, { name: 'durable', by: 42 });
    const again = await createApp(testConfig(app.database), { logging: false });
    try {
      const response = await again.yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ counter(name: "durable") { value } }' }),
      });
      expect(await response.json()).toEqual({ data: { counter: { value: 42 } } });
    } finally {
      await again.close();
    }
  });
});

describe.each(databases)('counters without their lock on $name', (database) => {
  it('lose updates: the same concurrent increments end below the exact sum', async () => {
    const app = await createTestApp(database, { locks: noLocks });
    try {
      const count = 200;
      await Promise.all(Array.from({ length: count }, () => app.request(increment, { name: 'hits', workMs: 2 })));
      const { body } = await app.request(readCounter, { name: 'hits' });
      expect(body.data?.counter.value).toBeLessThan(count);
    } finally {
      await app.dispose();
    }
  });
});

describe.each(databases)('increment and its lock on $name, over HTTP', (database) => {
  let app: TestApp;
  let server: RunningServer;
  let events: { waiting?: () => void; holding?: () => void };
  beforeAll(async () => {
    events = {};
    app = await createTestApp(database, {
      locks: (configured) => observeLocks(configured, { waiting: () => events.waiting?.(), holding: () => events.holding?.() }),
      config: { lockTimeoutMs: 500 },
    });
    server = await serve(app);
  });
  afterAll(async () => {
    await server.shutdown(1000);
    await app.dispose();
  });
  const post = (variables: Record<string, unknown>, signal?: AbortSignal) =>
    graphqlRequest(fetch, `${server.url}/graphql`, increment, variables, { signal });

  it('writes nothing for a client that disconnects while waiting for the lock', async () => {
    const holding = deferred();
    events = { holding: holding.resolve };
    const first = post({ name: 'queue', workMs: 300 });
    await holding.promise;

    const waiting = deferred();
    events = { waiting: waiting.resolve };
    const client = new AbortController();
    const second = post({ name: 'queue' }, client.signal).catch((error: Error) => error);
    await waiting.promise;
    client.abort();
    expect(await second).toBeInstanceOf(Error);
    expect((await first).body.data?.increment.value).toBe(1);

    const { body } = await app.request(readCounter, { name: 'queue' });
    expect(body.data?.counter.value).toBe(1);
  });

  it('completes an increment whose client disconnects after it holds the lock', async () => {
    const holding = deferred();
    events = { holding: holding.resolve };
    const client = new AbortController();
    const request = post({ name: 'committed', workMs: 200 }, client.signal).catch((error: Error) => error);
    await holding.promise;
    client.abort();
    expect(await request).toBeInstanceOf(Error);
    // The work goes on after the client has left; the next increment queues behind it.
    const { body } = await app.request(increment, { name: 'committed' });
    expect(body.data?.increment.value).toBe(2);
  });

  it('answers reads at once while an increment waits inside its lock and its transaction', async () => {
    const holding = deferred();
    events = { holding: holding.resolve };
    const holder = post({ name: 'reading', workMs: 3000 });
    await holding.promise;
    events = {};
    // On SQLite the writer's one connection is in that transaction: reads have one of their own.
    const startedAt = performance.now();
    const read = await graphqlRequest(fetch, `${server.url}/graphql`, '{ counter(name: "reading") { value } account(id: "1") { balance } }');
    expect(read.body.data).toEqual({ counter: { value: 0 }, account: { balance: 1000 } });
    expect(performance.now() - startedAt).toBeLessThan(1500);
    expect((await holder).body.data?.increment.value).toBe(1);
  });

  it('fails with LOCK_TIMEOUT after LOCK_TIMEOUT_MS, changing nothing', async () => {
    const holding = deferred();
    events = { holding: holding.resolve };
    const holder = post({ name: 'slow', workMs: 1500 });
    await holding.promise;
    events = {};
    const { body } = await post({ name: 'slow', by: 100 });
    expect(errorCodes(body)).toEqual(['LOCK_TIMEOUT']);
    expect((await holder).body.data?.increment.value).toBe(1);
    expect((await app.request(readCounter, { name: 'slow' })).body.data?.counter.value).toBe(1);
  });
});
