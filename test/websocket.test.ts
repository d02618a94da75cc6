import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { defaultHttp, defaultQueue, defaultSubscriptions, defaultWebSocket, DEFAULT_MAX_RESPONSE_BYTES } from '../src/config.js';
import { deferred } from '../src/deferred.js';
import { databases } from './helpers/databases.js';
import { errorCodes, type GraphQLBody } from './helpers/graphql.js';
import { connectWs, wsOperation } from './helpers/graphql-ws.js';
import { progress, randomItems, submit } from './helpers/jobs.js';
import { serveTestApp } from './helpers/server.js';
import { subscribe, type SseEvent } from './helpers/sse.js';
import { waitFor } from './helpers/wait-for.js';

const queue = { queue: { ...defaultQueue, concurrency: 2, itemWorkMs: 2, batchSize: 1 } };
const jobIdOf = (results: GraphQLBody[]) => results[0]!.data!.submitTransfers.id as string;

/** A raw WebSocket speaking graphql-transport-ws, for what graphql-ws's client would never send. */
async function rawSocket(httpUrl: string, options: WebSocket.ClientOptions = {}) {
  const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', options);
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const messages: Record<string, any>[] = [];
  const received = (type: string) => new Promise<Record<string, any>>((resolve) => {
    const look = () => messages.find((message) => message.type === type);
    const found = look();
    if (found) return resolve(found);
    socket.on('message', () => look() && resolve(look()!));
  });
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return { socket, closed, messages, received, send: (message: object) => socket.send(JSON.stringify(message)) };
}

describe.each(databases)('graphql-ws on $name', (database) => {
  it('runs queries, mutations and a job to completion over one WebSocket, with connectionParams in the context and the limits of HTTP', async () => {
    const contexts: unknown[] = [];
    const { server, close } = await serveTestApp(database, {
      config: { ...queue, maxResponseBytes: 20_000 },
      plugins: [{ onExecute: ({ args }) => void contexts.push((args.contextValue as { connectionParams?: unknown }).connectionParams) }],
    });
    const client = connectWs(server.url, { client: 'test' });
    try {
      expect(await wsOperation(client, { query: '{ hello }' })).toEqual([{ data: { hello: 'Hello, World' } }]);
      expect(contexts).toEqual([{ client: 'test' }]);
      const transfer = await wsOperation(client, { query: 'mutation { transfer(fromId: "1", toId: "2", amount: 7) { from { balance } } }' });
      expect(transfer).toEqual([{ data: { transfer: { from: { balance: 993 } } } }]);

      const job = jobIdOf(await wsOperation(client, { query: submit, variables: { items: randomItems(40, 20, 5) } }));
      const events = await wsOperation(client, { query: progress, variables: { id: job } });
      expect(events.at(-1)?.data?.jobProgress).toMatchObject({ id: job, status: 'SUCCEEDED', done: 40 });

      // The same bounds as HTTP: cost (envelop), text arguments, the response's size (applied here).
      const ids = Array.from({ length: 1000 }, (_, index) => String(index + 1));
      const costly = await wsOperation(client, { query: 'query ($ids: [ID!]!) { accounts(ids: $ids) { transfers(last: 100) { id } } }', variables: { ids } });
      expect(costly.flatMap(errorCodes)).toEqual(['QUERY_TOO_COMPLEX']);
      expect(JSON.stringify(costly)).not.toContain('"http"');
      const nul = await wsOperation(client, { query: 'mutation ($name: String!) { increment(name: $name) { value } }', variables: { name: 'a\u0000b' } });
      expect(nul.flatMap(errorCodes)).toEqual(['BAD_USER_INPUT']);
      const large = await wsOperation(client, { query: 'query ($ids: [ID!]!) { accounts(ids: $ids) { name } }', variables: { ids } });
      expect(large.flatMap(errorCodes)).toEqual(['RESPONSE_TOO_LARGE']);
      expect(await wsOperation(client, { query: '{ nope }' }).then((results) => results.flatMap(errorCodes))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    } finally {
      await client.dispose();
      await close();
    }
  });

  it('counts WebSocket and SSE subscriptions against one MAX_SUBSCRIPTIONS, and leaves no listener or slot behind after 100 sockets that leave', async () => {
    const { app, server, close } = await serveTestApp(database, { config: { subscriptions: { ...defaultSubscriptions, maxOpen: 2 } } });
    const url = `${server.url}/graphql`;
    try {
      // No workers: the job stays QUEUED and its streams stay open until their clients leave.
      const client = connectWs(server.url);
      const job = jobIdOf(await wsOperation(client, { query: submit, variables: { items: randomItems(3, 10) } }));
      const sseFirst = deferred<SseEvent>();
      const leaveSse = new AbortController();
      const sse = subscribe(fetch, url, progress, { id: job }, (event) => sseFirst.resolve(event), leaveSse.signal).catch(() => 'left');
      await sseFirst.promise;
      const wsFirst = deferred<GraphQLBody>();
      const ws = wsOperation(client, { query: progress, variables: { id: job } }, (result) => wsFirst.resolve(result));
      await wsFirst.promise;
      expect(app.subscriptionSlots.open).toBe(2);
      const third = connectWs(server.url);
      const refused = await wsOperation(third, { query: progress, variables: { id: job } });
      expect(refused.flatMap(errorCodes)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
      await third.dispose();
      leaveSse.abort();
      await sse;
      await client.dispose();
      await ws.catch(() => undefined);
      await waitFor(async () => app.subscriptionSlots.open === 0);

      // Sockets cut mid-subscription, 100 of them, two at a time (the bound): nothing is left.
      for (let index = 0; index < 50; index += 1) {
        const pair = [connectWs(server.url), connectWs(server.url)];
        const firsts = pair.map((socket) => {
          const first = deferred<GraphQLBody>();
          void wsOperation(socket, { query: progress, variables: { id: job } }, (result) => first.resolve(result)).catch(() => undefined);
          return first.promise;
        });
        expect((await Promise.all(firsts)).flatMap(errorCodes)).toEqual([]);
        for (const socket of pair) await socket.dispose();
        await waitFor(async () => app.subscriptionSlots.open === 0);
      }
      await waitFor(async () => server.webSockets.connections === 0);
      expect(app.jobWatchers.size).toEqual({ jobs: 0, streams: 0 });
    } finally {
      await close();
    }
  });

  it('bounds each socket: its message size, its operations in flight, its time to init, and its answers to pings', async () => {
    const { server, close } = await serveTestApp(database, {
      config: { maxBodyBytes: 4_096, websocket: { keepAliveMs: 300, connectionInitTimeoutMs: 300, maxOperationsPerConnection: 3 } },
    });
    try {
      const big = await rawSocket(server.url);
      big.send({ type: 'connection_init', payload: { padding: 'x'.repeat(5_000) } });
      expect(await big.closed).toBe(1009);

      const busy = await rawSocket(server.url);
      busy.send({ type: 'connection_init' });
      await busy.received('connection_ack');
      for (let id = 1; id <= 4; id += 1) busy.send({ id: String(id), type: 'subscribe', payload: { query: '{ hello(delayMs: 1000) }' } });
      const refusal = await busy.received('error');
      expect(refusal).toMatchObject({ id: '4', payload: [{ extensions: { code: 'TOO_MANY_OPERATIONS', max: 3 } }] });
      busy.socket.close();

      const silent = await rawSocket(server.url);
      expect(await silent.closed).toBe(4408);

      // autoPong off: a client whose end is gone never answers pings, and is dropped (1006: cut, not closed).
      const dead = await rawSocket(server.url, { autoPong: false });
      dead.send({ type: 'connection_init' });
      await dead.received('connection_ack');
      expect(await dead.closed).toBe(1006);
      await waitFor(async () => server.webSockets.connections === 0);
    } finally {
      await close();
    }
  });

  it('counts open WebSockets against MAX_CONNECTIONS with HTTP connections', async () => {
    const { server, close } = await serveTestApp(database, { config: { http: { ...defaultHttp, maxConnections: 2 } } });
    const clients = [connectWs(server.url), connectWs(server.url)];
    try {
      for (const client of clients) expect(await wsOperation(client, { query: '{ hello }' })).toEqual([{ data: { hello: 'Hello, World' } }]);
      // Two upgraded sockets are open: a third connection, WebSocket or HTTP, is closed as it is accepted.
      const third = connectWs(server.url);
      await expect(wsOperation(third, { query: '{ hello }' })).rejects.toBeDefined();
      await expect(fetch(`${server.url}/health`)).rejects.toThrow();
      await Promise.all(clients.map((client) => client.dispose()));
      await waitFor(async () => server.webSockets.connections === 0);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      await close();
    }
  });

  it('on shutdown answers the operations in flight, completes the subscriptions, then closes with 1001', async () => {
    const { app, server, close } = await serveTestApp(database, { config: { websocket: defaultWebSocket, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES } });
    try {
      const client = connectWs(server.url);
      const job = jobIdOf(await wsOperation(client, { query: submit, variables: { items: randomItems(3, 10) } }));
      const first = deferred<GraphQLBody>();
      const watching = wsOperation(client, { query: progress, variables: { id: job } }, (result) => first.resolve(result));
      await first.promise;
      const slow = wsOperation(client, { query: '{ hello(delayMs: 300) }' });
      const stopped = server.shutdown(10_000);
      expect(await slow).toEqual([{ data: { hello: 'Hello, World' } }]);
      expect((await watching).at(-1)?.data?.jobProgress).toMatchObject({ id: job, status: 'QUEUED' });
      expect(await client.closed).toBe(1001);
      await stopped;
      expect(app.subscriptionSlots.open).toBe(0);
      expect(app.jobWatchers.size).toEqual({ jobs: 0, streams: 0 });
    } finally {
      await close();
    }
  });
});
