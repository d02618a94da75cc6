import { afterEach, describe, expect, it } from 'vitest';
import { deferred } from '../src/deferred.js';
import { postgres } from './helpers/databases.js';
import { errorCodes, graphqlRequest } from './helpers/graphql.js';
import { observeLocks } from './helpers/locks.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';

const increment = 'mutation ($name: String!, $workMs: Int!) { increment(name: $name, workMs: $workMs) { value } }';
const read = '{ accounts(ids: ["1", "2"]) { balance } }';

/**
 * The pool of a PostgreSQL server (10 connections in these tests) is shared by reads and by lock
 * holders, which keep their connection for as long as their work lasts.
 */
describe.skipIf(!postgres)('the PostgreSQL pool', () => {
  let served: ServedTestApp | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });
  const post = (query: string, variables?: Record<string, unknown>) => graphqlRequest(fetch, `${served!.server.url}/graphql`, query, variables);
  const timed = async <T>(work: () => Promise<T>) => {
    const startedAt = performance.now();
    const result = await work();
    return { result, ms: performance.now() - startedAt };
  };

  it('keeps answering reads and /readiness while slow increments on distinct names take every connection lock holders may have', async () => {
    const holders = 8; // DATABASE_LOCK_CONNECTIONS by default: the pool of 10 less 2
    let holding = 0;
    const allSlotsTaken = deferred();
    served = await serveTestApp(postgres!, {
      locks: (configured) => observeLocks(configured, { holding: () => void (++holding >= holders && allSlotsTaken.resolve()) }),
    });
    // More slow increments than the pool has connections, each on a name of its own.
    const increments = Promise.allSettled(Array.from({ length: 12 }, (_, index) => post(increment, { name: `slow-${index}`, workMs: 3_000 })));
    await allSlotsTaken.promise;

    for (let attempt = 0; attempt < 3; attempt += 1) {
      const { result, ms } = await timed(() => post(read));
      expect(result.body).toEqual({ data: { accounts: [{ balance: 1000 }, { balance: 1000 }] } });
      expect(ms).toBeLessThan(1_000);
      expect((await fetch(`${served.server.url}/readiness`)).status).toBe(200);
    }
    // Those that waited for a connection slot ran after the first ones, within their lock deadline.
    for (const outcome of await increments) expect(outcome).toMatchObject({ status: 'fulfilled', value: { body: { data: { increment: { value: 1 } } } } });
  });

  it('answers DATABASE_BUSY, not DATABASE_UNAVAILABLE, when a wait for a pooled connection times out', async () => {
    served = await serveTestApp(postgres!);
    const { app } = served;
    // Something (here the test) holds every connection of the pool.
    const release = deferred();
    const held = Array.from({ length: 10 }, () => deferred());
    const holding = held.map((entered) => app.db.connection().execute(async () => (entered.resolve(), await release.promise)));
    try {
      await Promise.all(held.map((entered) => entered.promise));
      const { result, ms } = await timed(() => post(read));
      expect(errorCodes(result.body)).toEqual(['DATABASE_BUSY']);
      expect(result.body.errors?.[0]?.message).toMatch(/Every database connection of this server stayed busy/);
      expect(ms).toBeLessThan(5_000);
      expect((await fetch(`${served.server.url}/health`)).status).toBe(200);
    } finally {
      release.resolve();
      await Promise.all(holding);
    }
    expect((await post(read)).body.errors).toBeUndefined();
  });
});
