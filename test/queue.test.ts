import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemsFault } from '../src/bank/job-items.js';
import { createApp } from '../src/app.js';
import { defaultQueue } from '../src/config.js';
import { createDb } from '../src/db/connect.js';
import type { Db } from '../src/db/database.js';
import { deferred } from '../src/deferred.js';
import { LockTimeoutError } from '../src/locks/errors.js';
import { PostgresJobEvents } from '../src/queue/job-events.js';
import { PROGRESS_INTERVAL_MS } from '../src/queue/job-watchers.js';
import { databases, postgres, postgresUrlOf } from './helpers/databases.js';
import { createTestApp, errorCodes, graphqlRequest, testConfig, type TestApp } from './helpers/graphql.js';
import { lastJob, progress, randomItems, submit } from './helpers/jobs.js';
import { serve } from './helpers/server.js';
import { subscribe } from './helpers/sse.js';
import { waitFor } from './helpers/wait-for.js';

const watch = (app: TestApp, id: string) => subscribe(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', progress, { id });

describe.each(databases)('the queue on $name', (database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(database, { config: { queue: { ...defaultQueue, concurrency: 4 } } });
  });
  afterAll(() => app.dispose());

  const balances = async () => {
    const ids = Array.from({ length: 1000 }, (_, index) => String(index + 1));
    const { body } = await app.request('query ($ids: [ID!]!) { accounts(ids: $ids) { balance } }', { ids });
    return (body.data?.accounts as { balance: number }[]).map((account) => account.balance);
  };

  it('applies a job of 1,000 items among 50 accounts: money conserved, none negative, every success linked to one transfer', async () => {
    const before = await app.db.selectFrom('transfers').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const { body } = await app.request(submit, { items: randomItems(1000, 50, 300) });
    expect(body.errors).toBeUndefined();
    expect(['QUEUED', 'RUNNING']).toContain(body.data?.submitTransfers.status);
    expect(body.data?.submitTransfers).toMatchObject({ total: 1000, done: expect.any(Number) });

    const final = lastJob(await watch(app, body.data?.submitTransfers.id));
    expect(final).toMatchObject({ status: 'SUCCEEDED', total: 1000, done: 1000, finishedAt: expect.any(String) });

    const balancesAfter = await balances();
    expect(balancesAfter.reduce((sum, balance) => sum + balance, 0)).toBe(1_000_000);
    expect(Math.min(...balancesAfter)).toBeGreaterThanOrEqual(0);

    const items = await app.db.selectFrom('job_items').selectAll().where('job_id', '=', Number(final.id)).execute();
    const succeeded = items.filter((item) => item.status === 'SUCCEEDED');
    expect(items.every((item) => item.status === 'SUCCEEDED' || item.status === 'FAILED')).toBe(true);
    expect(items.filter((item) => item.status === 'FAILED').every((item) => item.error_code === 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(final.failed).toBe(items.length - succeeded.length);
    expect(new Set(succeeded.map((item) => item.transfer_id)).size).toBe(succeeded.length);
    const after = await app.db.selectFrom('transfers').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n) - Number(before.n)).toBe(succeeded.length);
  });

  it('fails an item with an unknown account when it runs, and goes on with the others', async () => {
    const { body } = await app.request(submit, {
      items: [
        { fromId: '1', toId: '2', amount: 1 },
        { fromId: '1', toId: 'nobody', amount: 1 },
        { fromId: '123456', toId: '2', amount: 1 },
      ],
    });
    const id = body.data?.submitTransfers.id;
    expect(lastJob(await watch(app, id))).toMatchObject({ status: 'SUCCEEDED', done: 3, failed: 2 });
    const { body: read } = await app.request('query ($id: ID!) { job(id: $id) { items { index status input { toId } error { code message } transfer { amount from { id } to { id } } } } }', { id });
    expect(read.data?.job.items).toEqual([
      { index: 0, status: 'SUCCEEDED', input: { toId: '2' }, error: null, transfer: { amount: 1, from: { id: '1' }, to: { id: '2' } } },
      { index: 1, status: 'FAILED', input: { toId: 'nobody' }, error: { code: 'NOT_FOUND', message: 'Account "nobody" was not found.' }, transfer: null },
      { index: 2, status: 'FAILED', input: { toId: '2' }, error: { code: 'NOT_FOUND', message: 'Account "123456" was not found.' }, transfer: null },
    ]);
  });

  it('reads a job of 100 items with their transfers and accounts in a constant number of statements', async () => {
    const { body } = await app.request(submit, { items: randomItems(100, 100, 1) });
    const id = body.data?.submitTransfers.id;
    await watch(app, id);
    app.resetStatements();
    const { body: read } = await app.request('query ($id: ID!) { job(id: $id) { items(limit: 100) { transfer { from { name } to { name } } } } }', { id });
    expect(read.data?.job.items).toHaveLength(100);
    // job, items, transfers, accounts; the idle workers' claims are not part of the read.
    expect(app.statements.filter((statement) => !/update "?job_items"?|"?queue_workers"?/i.test(statement))).toHaveLength(4);
  });

  it('returns the first job for a repeated idempotency key, and refuses the key with other items', async () => {
    const items = randomItems(3, 10);
    const first = await app.request(submit, { items, key: `key-${database.name}` });
    const again = await app.request(submit, { items, key: `key-${database.name}` });
    expect(again.body.data?.submitTransfers.id).toBe(first.body.data?.submitTransfers.id);
    const other = await app.request(submit, { items: randomItems(3, 10), key: `key-${database.name}` });
    expect(errorCodes(other.body)).toEqual(['BAD_USER_INPUT']);
    expect(other.body.errors?.[0]?.message).toMatch(/^idempotencyKey "key-\w+" was already used for job \d+ with different items\.$/);
    const count = await app.db.selectFrom('jobs').select((eb) => eb.fn.countAll().as('n')).where('idempotency_key', '=', `key-${database.name}`).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it.each([
    [[], undefined, 'items (count) must be between 1 and 10000; got 0.', undefined],
    [randomItems(10_001, 10, 1), undefined, 'items (count) must be between 1 and 10000; got 10001.', undefined],
    [[{ fromId: '1', toId: '2', amount: 5 }, { fromId: '1', toId: '2', amount: 5 }, { fromId: '1', toId: '2', amount: 5 }, { fromId: '1', toId: '2', amount: 0 }], undefined, 'items[3].amount must be between 1 and 2147483647; got 0.', 3],
    [[{ fromId: '1', toId: '2', amount: 5 }, { fromId: '7', toId: '7', amount: 5 }], undefined, 'items[1].toId must name another account than items[1].fromId.', 1],
    [[{ fromId: '1', toId: '2', amount: 5 }], '', 'idempotencyKey must be 1 to 200 characters long; got 0.', undefined],
    [[{ fromId: '1', toId: '2', amount: 5 }], 'k'.repeat(201), 'idempotencyKey must be 1 to 200 characters long; got 201.', undefined],
  ])('refuses a bad submission with BAD_USER_INPUT and enqueues nothing (%#)', async (items, key, message, index) => {
    const jobsBefore = await app.db.selectFrom('jobs').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const { body } = await app.request(submit, { items, key });
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors?.[0]?.message).toBe(message);
    expect(body.errors?.[0]?.extensions?.index).toBe(index);
    const jobsAfter = await app.db.selectFrom('jobs').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(jobsAfter.n)).toBe(Number(jobsBefore.n));
  });

  it('answers NOT_FOUND for an unknown job in cancelJob and jobProgress, and null from job', async () => {
    expect(errorCodes((await app.request('mutation { cancelJob(id: "999999") { id } }')).body)).toEqual(['NOT_FOUND']);
    expect(errorCodes((await app.request('mutation { cancelJob(id: "abc") { id } }')).body)).toEqual(['NOT_FOUND']);
    expect((await app.request('{ job(id: "999999") { id } }')).body).toEqual({ data: { job: null } });
    const events = await watch(app, '999999');
    expect(events.map((event) => event.event)).toEqual(['next', 'complete']);
    expect(errorCodes(events[0]!.data!)).toEqual(['NOT_FOUND']);
  });
});

describe.each(databases)('the queue bound on $name', (database) => {
  it('refuses with QUEUE_FULL past QUEUE_MAX_PENDING, enqueueing nothing, but never refuses a replay', async () => {
    const app = await createTestApp(database, { config: { queue: { ...defaultQueue, concurrency: 0, maxPending: 10 } } });
    try {
      const items = randomItems(6, 10);
      const first = await app.request(submit, { items, key: 'replay' });
      expect(first.body.errors).toBeUndefined();
      const full = await app.request(submit, { items: randomItems(5, 10) });
      expect(errorCodes(full.body)).toEqual(['QUEUE_FULL']);
      expect(full.body.errors?.[0]?.message).toBe('The queue holds 6 items waiting or running; 5 more would pass its bound of 10. Nothing was enqueued; try again later.');
      expect((await app.request(submit, { items: randomItems(4, 10) })).body.errors).toBeUndefined();
      const replay = await app.request(submit, { items, key: 'replay' });
      expect(replay.body.data?.submitTransfers.id).toBe(first.body.data?.submitTransfers.id);
      const count = await app.db.selectFrom('job_items').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(10);
    } finally {
      await app.dispose();
    }
  });
});

describe.each(databases)('cancelJob on $name', (database) => {
  it('stops every item not yet started; running ones finish and count; then the job is CANCELLED for good', async () => {
    const app = await createTestApp(database, { config: { queue: { ...defaultQueue, batchSize: 1, concurrency: 2, maxPending: 100_000, itemWorkMs: 30 } } });
    try {
      const { body } = await app.request(submit, { items: randomItems(200, 20, 1) });
      const id = body.data?.submitTransfers.id;
      let cancelled: Promise<unknown> | undefined;
      const events = await subscribe(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', progress, { id }, (event) => {
        // Cancel as soon as the first items are done.
        if (!cancelled && event.data?.data?.jobProgress.done > 0) cancelled = app.request(`mutation { cancelJob(id: "${id}") { id status done } }`);
      });
      const final = lastJob(events);
      expect(final.status).toBe('CANCELLED');
      expect(final.finishedAt).toEqual(expect.any(String));
      expect(final.done).toBeLessThan(200);
      expect(events.at(-1)?.event).toBe('complete');

      const items = await app.db.selectFrom('job_items').select(['status']).where('job_id', '=', Number(id)).execute();
      const finished = items.filter((item) => item.status === 'SUCCEEDED' || item.status === 'FAILED').length;
      expect(finished).toBe(final.done);
      expect(items.filter((item) => item.status === 'CANCELLED').length).toBe(200 - final.done);
      expect(items.some((item) => item.status === 'PENDING' || item.status === 'RUNNING')).toBe(false);

      // Nothing about it changes from now on.
      const again = await app.request(`mutation { cancelJob(id: "${id}") { status done finishedAt } }`);
      expect(again.body.data?.cancelJob).toEqual({ status: 'CANCELLED', done: final.done, finishedAt: final.finishedAt });
      await cancelled;
    } finally {
      await app.dispose();
    }
  });
});

describe.each(databases)('onJobFinished on $name', (database) => {
  it('is told of a job that cancelJob ends, none of its items running, as of one its last item ends', async () => {
    const finished: [string, number][] = [];
    // No workers: nothing runs, and cancelJob ends the job itself.
    const app = await createTestApp(database, { queueHooks: { onJobFinished: (status, durationMs) => finished.push([status, durationMs]) } });
    try {
      const { body } = await app.request(submit, { items: randomItems(10, 20, 1) });
      const id = body.data?.submitTransfers.id;
      const { body: cancelled } = await app.request(`mutation { cancelJob(id: "${id}") { status finishedAt } }`);
      expect(cancelled.data?.cancelJob).toMatchObject({ status: 'CANCELLED', finishedAt: expect.any(String) });
      expect(finished).toEqual([['CANCELLED', expect.any(Number)]]);
      expect(finished[0]![1]).toBeGreaterThanOrEqual(0);
      // Cancelling it again ends nothing.
      await app.request(`mutation { cancelJob(id: "${id}") { status } }`);
      expect(finished).toHaveLength(1);
    } finally {
      await app.dispose();
    }
  });

  it('is told of a cancelled job that ends when its last running items are handed back', async () => {
    const told = deferred();
    const finished: string[] = [];
    // Every batch fails as a lock not granted in time would: its items are handed back, not failed.
    const itemsFault: ItemsFault = () => {
      throw new LockTimeoutError(1);
    };
    const queue = { ...defaultQueue, concurrency: 1, batchSize: 10, itemWorkMs: 200 };
    const app = await createTestApp(database, { config: { queue }, itemsFault, queueHooks: { onJobFinished: (status) => (finished.push(status), told.resolve()) } });
    try {
      const { body } = await app.request(submit, { items: randomItems(3, 20, 1) });
      const id = body.data?.submitTransfers.id;
      // Cancelled while its three items are claimed (600 ms of work before their transaction): cancelJob cannot end it.
      const running = () => app.db.selectFrom('job_items').select('id').where('job_id', '=', Number(id)).where('status', '=', 'RUNNING').execute();
      await waitFor(async () => (await running()).length === 3);
      const { body: cancelled } = await app.request(`mutation { cancelJob(id: "${id}") { status } }`);
      expect(['QUEUED', 'RUNNING']).toContain(cancelled.data?.cancelJob.status);
      await told.promise;
      expect(finished).toEqual(['CANCELLED']);
    } finally {
      await app.dispose();
    }
  });
});

describe.each(databases)('a batch of the queue on $name', (database) => {
  it('applies 50 items in one transaction of a fixed number of statements: 6 on PostgreSQL, 7 on SQLite', async () => {
    const finished = deferred();
    const app = await createTestApp(database, { config: { queue: { ...defaultQueue, concurrency: 1, batchSize: 50 } }, queueHooks: { onJobFinished: () => finished.resolve() } });
    try {
      app.resetStatements();
      const { body } = await app.request(submit, { items: randomItems(50, 100, 1) });
      expect(body.errors).toBeUndefined();
      await finished.promise;
      // The batch's transaction: from the begin before its insert of transfers to the commit after.
      const statements = app.statements.filter((statement) => !/queue_workers/.test(statement));
      const insert = statements.findIndex((statement) => /insert into transfers/i.test(statement));
      const begin = statements.slice(0, insert).findLastIndex((statement) => /^begin/i.test(statement));
      const commit = insert + statements.slice(insert).findIndex((statement) => /^commit/i.test(statement));
      const batch = statements.slice(begin, commit + 1);
      // begin; the advisory locks (one round trip); the accounts; balances and transfers; outcomes and the job's counters; commit.
      expect(batch).toHaveLength(database.name === 'postgres' ? 6 : 7);
      expect(statements.filter((statement) => /insert into transfers/i.test(statement))).toHaveLength(1);
    } finally {
      await app.dispose();
    }
  });
});

describe.skipIf(!postgres)('batches of a job on PostgreSQL', () => {
  it('run at the same time when their accounts are apart: a claim passes over items that meet a running batch', async () => {
    // Batches of two. Taken in id order, the second batch (items 3 and 4) would meet the first
    // (items 1 and 2) on account 1 and wait for its locks; items 4 and 5 are apart from it.
    const items = [
      { fromId: '1', toId: '2', amount: 1 },
      { fromId: '3', toId: '4', amount: 1 },
      { fromId: '1', toId: '5', amount: 1 },
      { fromId: '6', toId: '7', amount: 1 },
      { fromId: '8', toId: '9', amount: 1 },
      { fromId: '10', toId: '11', amount: 1 },
    ];
    const held: Set<number>[] = [];
    let inside = 0;
    let mostInside = 0;
    const second = deferred();
    // Inside its transaction, under its locks: the first batch waits there (5 s at most) for another to get in.
    const itemsFault: ItemsFault = async (batch) => {
      held.push(new Set(batch.flatMap((item) => [item.from_id, item.to_id]).map(Number)));
      mostInside = Math.max(mostInside, ++inside);
      try {
        if (held.length === 1) await Promise.race([second.promise, setTimeout(5_000)]);
        else second.resolve();
      } finally {
        inside -= 1;
      }
    };
    const app = await createTestApp(postgres!, { config: { queue: { ...defaultQueue, concurrency: 2, batchSize: 2 } }, itemsFault });
    try {
      const { body } = await app.request(submit, { items });
      expect(lastJob(await watch(app, body.data?.submitTransfers.id))).toMatchObject({ status: 'SUCCEEDED', done: items.length, failed: 0 });
      expect(mostInside).toBe(2);
      const [first, next] = held;
      expect([...first!].some((account) => next!.has(account))).toBe(false);
    } finally {
      await app.dispose();
    }
  });
});

describe.skipIf(!postgres)('claims of a job among few accounts on PostgreSQL', () => {
  it('read the window of items apart once, then claim plainly: a batch names nearly every account, so none is ever apart', async () => {
    const finished = deferred();
    const app = await createTestApp(postgres!, { config: { queue: { ...defaultQueue, concurrency: 4, batchSize: 100 } }, queueHooks: { onJobFinished: () => finished.resolve() } });
    try {
      app.resetStatements();
      const { body } = await app.request(submit, { items: randomItems(2000, 50, 1) });
      expect(body.errors).toBeUndefined();
      await finished.promise;
      const claims = app.statements.filter((statement) => /^\s*update job_items set status = 'RUNNING'/i.test(statement));
      const apart = app.statements.filter((statement) => /^\s*with others as/i.test(statement));
      // The job's first claim looks for items apart (all are, with nothing running); its batch
      // names 50 accounts for 200 ends of transfers, and every later claim is plain.
      expect(apart).toHaveLength(1);
      expect(claims.length).toBeGreaterThanOrEqual(19);
    } finally {
      await app.dispose();
    }
  });
});

describe.skipIf(!postgres)("a job's changes told across replicas (NOTIFY)", () => {
  it('tells progress at most once an interval, the last step at its end, and anything else at once', async () => {
    const created = await postgres!.create();
    const notifies: string[] = [];
    const db = createDb(created.config, { onQuery: (statement) => void (/pg_notify/.test(statement) && notifies.push(statement)) });
    const connection = { connectionString: postgresUrlOf(created) };
    const publisher = new PostgresJobEvents(db, connection);
    const listener = new PostgresJobEvents(db, connection);
    try {
      await listener.start();
      const heard: number[] = [];
      let hear = deferred();
      listener.onJobChanged(7, () => (heard.push(performance.now()), hear.resolve()));
      const startedAt = performance.now();
      for (let step = 0; step < 20; step += 1) publisher.publishJobChanged(7, { coalesce: true });
      await hear.promise;
      hear = deferred();
      await hear.promise;
      // Twenty steps: one NOTIFY at once, one for the rest at the interval's end. (A statement is
      // logged once its answer is in, which may come after the notification it sent.)
      await waitFor(async () => notifies.length >= 2);
      expect(notifies).toHaveLength(2);
      expect(heard[1]! - startedAt).toBeGreaterThanOrEqual(PROGRESS_INTERVAL_MS - 5);
      // The job's end is told at once, even within an interval.
      publisher.publishJobChanged(7, { coalesce: true });
      hear = deferred();
      await hear.promise;
      hear = deferred();
      publisher.publishJobChanged(7);
      await hear.promise;
      await waitFor(async () => notifies.length >= 4);
      expect(notifies).toHaveLength(4);
      expect(heard[3]! - heard[2]!).toBeLessThan(PROGRESS_INTERVAL_MS);
    } finally {
      await publisher.close();
      await listener.close();
      await db.destroy();
      await created.drop();
    }
  });
});

describe.each(databases)('the worker pool on $name', (database) => {
  const timeJob = async (concurrency: number) => {
    const app = await createTestApp(database, { config: { queue: { ...defaultQueue, batchSize: 1, concurrency, maxPending: 100_000, itemWorkMs: 25 } } });
    try {
      const startedAt = performance.now();
      const { body } = await app.request(submit, { items: randomItems(40, 40, 1) });
      const final = lastJob(await watch(app, body.data?.submitTransfers.id));
      expect(final.done).toBe(40);
      expect(app.queue.maxRunning).toBeLessThanOrEqual(concurrency);
      return { elapsed: performance.now() - startedAt, maxRunning: app.queue.maxRunning };
    } finally {
      await app.dispose();
    }
  };

  it('runs no more than QUEUE_CONCURRENCY items at once, and a larger pool finishes sooner', async () => {
    const one = await timeJob(1);
    const four = await timeJob(4);
    expect(one.maxRunning).toBe(1);
    expect(four.maxRunning).toBe(4);
    // 40 items × 25 ms of work: about 1 s alone, about 0.25 s four at a time. Generous bound.
    expect(four.elapsed).toBeLessThan(one.elapsed * 0.7);
  });
});

describe.each(databases)('shutting the queue down on $name', (database) => {
  it('lets the running items finish, starts no new one, and leaves the rest for the next start', async () => {
    const queue = { ...defaultQueue, batchSize: 1, concurrency: 2, maxPending: 100_000, itemWorkMs: 300 };
    const app = await createTestApp(database, { config: { queue } });
    const { body } = await app.request(submit, { items: randomItems(20, 20, 1) });
    const id = Number(body.data?.submitTransfers.id);
    const itemsByStatus = async (db: Db = app.db) => {
      const rows = await db.selectFrom('job_items').select(['status']).where('job_id', '=', id).execute();
      return Object.fromEntries(['PENDING', 'RUNNING', 'SUCCEEDED'].map((status) => [status, rows.filter((row) => row.status === status).length]));
    };
    // Two items are running (inside their 300 ms of work) when the shutdown begins.
    while (((await itemsByStatus()).RUNNING ?? 0) < 2) await new Promise((resolve) => setImmediate(resolve));
    await app.close();
    const inspect = createDb(app.database);
    expect(await itemsByStatus(inspect)).toEqual({ PENDING: 18, RUNNING: 0, SUCCEEDED: 2 });
    await inspect.destroy();

    const reopened = await createApp(testConfig(app.database, { queue: { ...queue, itemWorkMs: 0 } }), { logging: false });
    try {
      const events = await subscribe(reopened.yoga.fetch.bind(reopened.yoga), 'http://yoga/graphql', progress, { id: String(id) });
      expect(lastJob(events)).toMatchObject({ status: 'SUCCEEDED', done: 20 });
    } finally {
      await reopened.close();
      await app.dispose();
    }
  });
});

describe.each(databases)('the server while the queue works on $name', (database) => {
  it('keeps answering requests while a large job runs', async () => {
    const app = await createTestApp(database, { config: { queue: { ...defaultQueue, concurrency: 4 } } });
    const server = await serve(app);
    try {
      // The largest job (10,000 items): the workers apply a smaller one faster than the read below arrives.
      const { body } = await graphqlRequest(fetch, `${server.url}/graphql`, submit, { items: randomItems(10_000, 100, 1) });
      const id = body.data?.submitTransfers.id;
      // Answered while the job is still running: the workers leave the event loop room to serve.
      const { body: read } = await graphqlRequest(fetch, `${server.url}/graphql`, 'query ($id: ID!) { hello(delayMs: 0) job(id: $id) { status done } }', { id });
      expect(read.data?.hello).toBe('Hello, World');
      expect(['QUEUED', 'RUNNING']).toContain(read.data?.job.status);
      expect(read.data?.job.done).toBeLessThan(10_000);
      await subscribe(fetch, `${server.url}/graphql`, progress, { id });
    } finally {
      await server.shutdown(10_000);
      await app.dispose();
    }
  });
});
