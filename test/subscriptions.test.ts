import { describe, expect, it } from 'vitest';
import { defaultQueue, defaultSubscriptions, type SubscriptionsConfig } from '../src/config.js';
import { deferred } from '../src/deferred.js';
import { databases } from './helpers/databases.js';
import { createTestApp, errorCodes, graphqlRequest, type TestApp } from './helpers/graphql.js';
import { lastJob, progress, randomItems, submit } from './helpers/jobs.js';
import { serveTestApp } from './helpers/server.js';
import { subscribe, type SseEvent } from './helpers/sse.js';
import { waitFor } from './helpers/wait-for.js';

/** The statements that read a job by id: what each jobProgress subscriber ran on every change before. */
const isJobRead = (statement: string) => /^select \* from "jobs" where "id" in/i.test(statement);
const nextEvents = (events: SseEvent[]) => events.filter((event) => event.event === 'next');

const watchAll = (app: TestApp, count: number, id: string, query = progress) =>
  Promise.all(Array.from({ length: count }, () => subscribe(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', query, { id })));

const subscriptions = (overrides: Partial<SubscriptionsConfig>) => ({ subscriptions: { ...defaultSubscriptions, ...overrides } });

describe.each(databases)('the subscription bound on $name', (database) => {
  it('refuses the subscription past MAX_SUBSCRIPTIONS with TOO_MANY_SUBSCRIPTIONS, and frees a slot when the client leaves, the job ends or the server shuts down', async () => {
    const { app, server, close } = await serveTestApp(database, { config: subscriptions({ maxOpen: 2 }) });
    const url = `${server.url}/graphql`;
    try {
      // No workers: the jobs stay QUEUED, so only the test ends their streams.
      const newJob = async () => (await graphqlRequest(fetch, url, submit, { items: randomItems(3, 10) })).body.data?.submitTransfers.id as string;
      const [first, second] = [await newJob(), await newJob()];
      const open = (id: string) => {
        const leave = new AbortController();
        const firstEvent = deferred<SseEvent>();
        const events = subscribe(fetch, url, progress, { id }, (event) => firstEvent.resolve(event), leave.signal).catch(() => 'left' as const);
        return { leave: () => leave.abort(), first: firstEvent.promise, events };
      };

      // A subscription POSTed for a plain JSON answer is refused (406) and never read: it holds no slot.
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const plain = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query: progress, variables: { id: first } }) });
        expect(plain.status).toBe(406);
      }

      const a = open(first);
      const b = open(second);
      expect((await a.first).data?.data?.jobProgress).toMatchObject({ id: first, status: 'QUEUED' });
      expect((await b.first).data?.data?.jobProgress).toMatchObject({ id: second, status: 'QUEUED' });

      const refused = open(first);
      const refusal = (await refused.first).data!;
      expect(errorCodes(refusal)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
      expect(refusal.errors?.[0]?.message).toBe('This server has 2 subscriptions open, as many as it allows; try again when one has ended.');
      expect(((await refused.events) as SseEvent[]).map((event) => event.event)).toEqual(['next', 'complete']);

      // The client of `a` leaves: its slot comes back, and a new subscription is served.
      a.leave();
      expect(await a.events).toBe('left');
      await waitFor(async () => app.subscriptionSlots.open === 1);
      const c = open(first);
      expect((await c.first).data?.data?.jobProgress).toMatchObject({ id: first, status: 'QUEUED' });

      // `b`'s job ends: its stream completes, and its slot is free by the time the client sees that.
      await graphqlRequest(fetch, url, `mutation { cancelJob(id: "${second}") { id } }`);
      expect(lastJob((await b.events) as SseEvent[])).toMatchObject({ status: 'CANCELLED' });
      expect(app.subscriptionSlots.open).toBe(1);

      // The server shuts down: `c` completes, and nothing of any stream is left behind.
      await server.shutdown(10_000);
      expect(((await c.events) as SseEvent[]).at(-1)?.event).toBe('complete');
      expect(app.subscriptionSlots.open).toBe(0);
      expect(app.jobWatchers.size).toEqual({ jobs: 0, streams: 0 });
    } finally {
      await close();
    }
  });
});

describe.each(databases)('progress fan-out on $name', (database) => {
  it('reads a running job once per change for the whole process, not once per subscriber', async () => {
    const app = await createTestApp(database, { config: { queue: { ...defaultQueue, batchSize: 1, concurrency: 2, maxPending: 100_000, itemWorkMs: 5 } } });
    try {
      const { body } = await app.request(submit, { items: randomItems(200, 50, 1) });
      const id = body.data?.submitTransfers.id as string;
      app.resetStatements();
      const streams = await watchAll(app, 50, id);
      for (const events of streams) expect(lastJob(events)).toMatchObject({ status: 'SUCCEEDED', done: 200 });
      const mostEvents = Math.max(...streams.map((events) => nextEvents(events).length));
      expect(mostEvents).toBeGreaterThan(2);
      // One reader: about one read per event of any one subscriber (plus the first and the polls),
      // where 50 subscribers reading for themselves made 50 reads per event.
      expect(app.statements.filter(isJobRead).length).toBeLessThanOrEqual(2 * mostEvents + 5);
    } finally {
      await app.dispose();
    }
  });

  it('re-reads the watched jobs every 2 s in case a notification was lost, in one statement for all of them and their subscribers', async () => {
    const app = await createTestApp(database);
    try {
      const ids: string[] = [];
      for (let job = 0; job < 4; job += 1) ids.push((await app.request(submit, { items: randomItems(3, 10) })).body.data?.submitTransfers.id);
      let opened = 0;
      const allOpened = deferred();
      // Five subscribers on each of four jobs.
      const streams = Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          subscribe(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', progress, { id: ids[index % 4] }, (event) => {
            if (event.data?.data?.jobProgress.status === 'QUEUED' && ++opened === 20) allOpened.resolve();
          }),
        ),
      );
      await allOpened.promise;
      app.resetStatements();
      // Changed behind the server's back: no notification is sent, only the poll can see it.
      await app.db.updateTable('jobs').set({ status: 'CANCELLED', finished_at: new Date().toISOString() }).where('id', 'in', ids.map(Number)).execute();
      const startedAt = performance.now();
      for (const events of await streams) expect(lastJob(events)).toMatchObject({ status: 'CANCELLED' });
      expect(performance.now() - startedAt).toBeLessThan(5_000);
      expect(app.statements.filter(isJobRead).length).toBeLessThanOrEqual(2);
    } finally {
      await app.dispose();
    }
  });

  it.each([
    ['a small selection, each event counting as one', progress, 40, 1],
    ['items(limit: 1000), each event counting as 20', 'subscription ($id: ID!) { jobProgress(id: $id) { status done items(limit: 1000) { index } } }', 200, 20],
  ])('sends at most SUBSCRIPTION_EVENTS_PER_SECOND events a second over all subscribers (%s), each still ending on the final state', async (_, query, eventsPerSecond, weight) => {
    const app = await createTestApp(database, {
      config: { queue: { ...defaultQueue, batchSize: 1, concurrency: 2, maxPending: 100_000, itemWorkMs: 5 }, ...subscriptions({ eventsPerSecond }) },
    });
    try {
      const { body } = await app.request(submit, { items: randomItems(300, 50, 1) });
      const id = body.data?.submitTransfers.id as string;
      const startedAt = performance.now();
      const streams = await watchAll(app, 20, id, query);
      const seconds = (performance.now() - startedAt) / 1000;
      for (const events of streams) expect(lastJob(events)).toMatchObject({ status: 'SUCCEEDED', done: 300 });
      // The budget's rate over the time it took, and the tenth of a second it may hand out at once.
      const sent = streams.reduce((sum, events) => sum + nextEvents(events).length, 0);
      expect(sent).toBeLessThanOrEqual(((seconds + 0.1) * eventsPerSecond) / weight + 1);
      // What the budget stops: 20 subscribers at 10 events a second each.
      expect(seconds * 200).toBeGreaterThan(((seconds + 0.1) * eventsPerSecond) / weight + 1);
    } finally {
      await app.dispose();
    }
  });
});
