import { describe, expect, it } from 'vitest';
import { defaultSubscriptions, type SubscriptionsConfig } from '../src/config.js';
import { deferred } from '../src/deferred.js';
import { databases } from './helpers/databases.js';
import { createTestApp, type TestApp } from './helpers/graphql.js';
import { lastJob, progress, randomItems, submit } from './helpers/jobs.js';
import { subscribe, type SseEvent } from './helpers/sse.js';

/** The statements that read a job by id: what each jobProgress subscriber ran on every change before. */
const isJobRead = (statement: string) => /^select \* from "jobs" where "id" in/i.test(statement);
const nextEvents = (events: SseEvent[]) => events.filter((event) => event.event === 'next');

const watchAll = (app: TestApp, count: number, id: string, query = progress) =>
  Promise.all(Array.from({ length: count }, () => subscribe(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', query, { id })));

const subscriptions = (overrides: Partial<SubscriptionsConfig>) => ({ subscriptions: { ...defaultSubscriptions, ...overrides } });

describe.each(databases)('progress fan-out on $name', (database) => {
  it('reads a running job once per change for the whole process, not once per subscriber', async () => {
    const app = await createTestApp(database, { config: { queue: { concurrency: 2, maxPending: 100_000, itemWorkMs: 5 } } });
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
      config: { queue: { concurrency: 2, maxPending: 100_000, itemWorkMs: 5 }, ...subscriptions({ eventsPerSecond }) },
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
