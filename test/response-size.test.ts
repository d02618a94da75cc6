import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases } from './helpers/databases.js';
import { countdown } from './helpers/deferred.js';
import { graphqlRequest } from './helpers/graphql.js';
import { randomItems, submit } from './helpers/jobs.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';
import { subscribe, type SseEvent } from './helpers/sse.js';

// MAX_RESPONSE_BYTES bounds what one request can make the server send: leaf fields cost nothing to
// resolve, so a query with many objects and many aliased leaves asks for an answer far larger
// than itself. Lowered here to 100 kB, so that ordinary objects, not long strings, pass it.
const maxResponseBytes = 100_000;
const ids = Array.from({ length: 1000 }, (_, index) => String(index + 1));
const aliased = `query ($ids: [ID!]!) { accounts(ids: $ids) { ${Array.from({ length: 99 }, (_, index) => `n${index}: name`).join(' ')} } }`;
const refusal = {
  errors: [
    {
      message: `The response would be larger than ${maxResponseBytes} bytes (MAX_RESPONSE_BYTES), so it was not sent. The operation did run: if it was a mutation, its changes were made. Ask for fewer objects or fields.`,
      extensions: { code: 'RESPONSE_TOO_LARGE', maxBytes: maxResponseBytes },
    },
  ],
  data: null,
};

async function post(url: string, query: string, variables: Record<string, unknown>, accept: string) {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ query, variables }) });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe.each(databases)('the largest response ($name)', (database) => {
  let fast: ServedTestApp;
  let yoga: ServedTestApp;
  beforeAll(async () => {
    [fast, yoga] = await Promise.all([
      serveTestApp(database, { config: { maxResponseBytes, httpFastPath: true } }),
      serveTestApp(database, { config: { maxResponseBytes, httpFastPath: false } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([fast?.close(), yoga?.close()]);
  });

  it('refuses a result past MAX_RESPONSE_BYTES with RESPONSE_TOO_LARGE, in the same bytes on the fast path and through Yoga', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const before = fast.app.requestListener.fastPathAnswers;
      const viaFastPath = await post(fast.server.url, aliased, { ids }, accept);
      expect(fast.app.requestListener.fastPathAnswers).toBe(before + 1);
      const viaYoga = await post(yoga.server.url, aliased, { ids }, accept);
      expect(JSON.parse(viaFastPath.text)).toEqual(refusal);
      expect(viaFastPath).toEqual(viaYoga);
      expect(viaFastPath.status).toBe(200);
    }
    // GET takes Yoga's path on either server.
    const search = new URLSearchParams({ query: aliased, variables: JSON.stringify({ ids }) });
    const viaGet = await fetch(`${fast.server.url}/graphql?${search}`, { headers: { accept: 'application/json' } });
    expect(await viaGet.json()).toEqual(refusal);
  });

  it('answers a result within the bound unchanged', async () => {
    const query = 'query ($ids: [ID!]!) { accounts(ids: $ids) { id name balance } }';
    const { status, body } = await graphqlRequest(fetch, `${fast.server.url}/graphql`, query, { ids });
    expect(status).toBe(200);
    expect(body.data?.accounts).toHaveLength(1000);
    expect(JSON.stringify(body).length).toBeGreaterThan(maxResponseBytes / 2);
  });

  it('bounds each Server-Sent Event of a subscription, and keeps the stream going', async () => {
    const { body } = await graphqlRequest(fetch, `${fast.server.url}/graphql`, submit, { items: randomItems(1000, 50) });
    const id = body.data?.submitTransfers.id;
    const small = 'subscription ($id: ID!) { jobProgress(id: $id) { status items(limit: 10) { index } } }';
    const large = 'subscription ($id: ID!) { jobProgress(id: $id) { status items(limit: 1000) { index status input { fromId toId amount } again: input { fromId toId amount } } } }';
    const firstEvents = countdown(2);
    const streams = [small, large].map((query) => subscribe(fetch, `${fast.server.url}/graphql`, query, { id }, () => firstEvents.tick()));
    await firstEvents.promise;
    // No workers run in this app, so the job does not move: the shutdown ends the streams.
    await fast.server.shutdown(1_000);
    const [smallEvents, largeEvents] = (await Promise.all(streams)) as [SseEvent[], SseEvent[]];
    expect(smallEvents.map((event) => event.event)).toEqual(['next', 'complete']);
    expect(smallEvents[0]!.data?.data?.jobProgress.items).toHaveLength(10);
    expect(largeEvents.map((event) => event.event)).toEqual(['next', 'complete']);
    expect(largeEvents[0]!.data).toEqual(refusal);
  });
});
