import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../src/config.js';
import { createDb } from '../src/db/connect.js';
import { databases, postgres, postgresUrlOf, type CreatedDatabase, type TestDatabase } from './helpers/databases.js';
import { graphqlRequest } from './helpers/graphql.js';
import { lastJob, progress, randomItems, submit } from './helpers/jobs.js';
import { startServerProcess, type ServerProcess } from './helpers/processes.js';
import { subscribe, type SseEvent } from './helpers/sse.js';
import { waitFor } from './helpers/wait-for.js';

const databaseUrl = (config: DatabaseConfig) => (config.dialect === 'postgres' ? config.url : `file:${config.filename}`);
const allIds = Array.from({ length: 1000 }, (_, index) => String(index + 1));

async function stopAll(servers: ServerProcess[]) {
  for (const server of servers) server.child.kill('SIGKILL');
  await Promise.all(servers.map((server) => server.exited));
}

/** The events of a jobProgress stream arrive in order of progress, coalesced, and end with the final status. */
function expectOrderedCoalescedStream(events: SseEvent[], total: number) {
  const jobs = events.filter((event) => event.event === 'next').map((event) => ({ job: event.data?.data?.jobProgress, at: event.at }));
  expect(events.at(-1)?.event).toBe('complete');
  expect(jobs.at(-1)?.job).toMatchObject({ status: 'SUCCEEDED', done: total, finishedAt: expect.any(String) });
  for (let i = 1; i < jobs.length; i += 1) expect(jobs[i]!.job.done).toBeGreaterThanOrEqual(jobs[i - 1]!.job.done);
  // At most ten events a second after the first, which comes at once. Counted over the whole
  // stream: one gap may look short when the event before it was delayed on its way.
  const seconds = (jobs.at(-1)!.at - jobs[0]!.at) / 1000;
  expect(jobs.length - 1).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 1);
  expect(jobs.length).toBeLessThan(total / 2);
}

/** A database of its own for the describe block, and the server processes started on it: both gone after it. */
function freshDatabase(database: TestDatabase) {
  let created: CreatedDatabase | undefined;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    created = await database.create();
  });
  afterAll(async () => {
    await stopAll(servers);
    await created?.drop();
  });
  return { servers, created: () => created! };
}

describe.each(databases)('a job across a crash on $name', (database) => {
  const { servers, created } = freshDatabase(database);

  it('resumes after SIGKILL and applies every item exactly once', async () => {
    const env = { DATABASE_URL: databaseUrl(created().config), QUEUE_CONCURRENCY: '4', QUEUE_ITEM_WORK_MS: '10' };
    const first = await startServerProcess(env);
    servers.push(first);
    const post = (server: ServerProcess, query: string, variables?: Record<string, unknown>) => graphqlRequest(fetch, `${server.url}/graphql`, query, variables);

    const total = 400;
    const { body } = await post(first, submit, { items: randomItems(total, 30, 100) });
    const id = body.data?.submitTransfers.id as string;
    await waitFor(async () => ((await post(first, 'query ($id: ID!) { job(id: $id) { done } }', { id })).body.data?.job.done ?? 0) >= 40);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startServerProcess(env);
    servers.push(second);
    const events = await subscribe(fetch, `${second.url}/graphql`, progress, { id });
    expectOrderedCoalescedStream(events, total);
    expect(lastJob(events).done).toBe(total);

    // Exactly once: one transfer per succeeded item, no more, and the money is all there.
    const { body: read } = await post(second, 'query ($id: ID!, $ids: [ID!]!) { job(id: $id) { failed items(limit: 1000) { status transfer { id } } } accounts(ids: $ids) { balance } }', { id, ids: allIds });
    const items = read.data?.job.items as { status: string; transfer: { id: string } | null }[];
    const succeeded = items.filter((item) => item.status === 'SUCCEEDED');
    expect(succeeded.length + read.data?.job.failed).toBe(total);
    expect(new Set(succeeded.map((item) => item.transfer?.id)).size).toBe(succeeded.length);
    const db = createDb(created().config);
    try {
      const { n } = await db.selectFrom('transfers').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      expect(Number(n)).toBe(succeeded.length);
    } finally {
      await db.destroy();
    }
    const balances = (read.data?.accounts as { balance: number }[]).map((account) => account.balance);
    expect(balances.reduce((sum, balance) => sum + balance, 0)).toBe(1_000_000);
    expect(Math.min(...balances)).toBeGreaterThanOrEqual(0);
  }, 60_000);
});

describe.each(databases)('a stop whose time runs out, in a real process, on $name', (database) => {
  const { servers, created } = freshDatabase(database);

  it('aborts the running items at SHUTDOWN_TIMEOUT_MS, hands them back before the database closes, and the next start applies each once', async () => {
    // Two batches of up to five items, a minute of work each (minutes a batch): far past the shutdown's 500 ms.
    const env = { DATABASE_URL: databaseUrl(created().config), QUEUE_CONCURRENCY: '2', QUEUE_BATCH_SIZE: '5', QUEUE_ITEM_WORK_MS: '60000', SHUTDOWN_TIMEOUT_MS: '500' };
    const first = await startServerProcess(env);
    servers.push(first);
    const { body } = await graphqlRequest(fetch, `${first.url}/graphql`, submit, { items: randomItems(20, 20, 1) });
    const id = Number(body.data?.submitTransfers.id);
    const db = createDb(created().config);
    try {
      const running = async () => (await db.selectFrom('job_items').select('id').where('job_id', '=', id).where('status', '=', 'RUNNING').execute()).length;
      // Both workers hold a batch: more items running than one batch holds. (Each claim is one
      // statement; a batch may hold fewer than QUEUE_BATCH_SIZE when its claim prefers items apart
      // from the running ones', on PostgreSQL.)
      await waitFor(async () => (await running()) > 5);
      const stoppedAt = performance.now();
      first.child.kill('SIGTERM');
      const exited = await first.exited;
      expect(exited.code).toBe(0);
      expect(exited.stdout).toContain('Stopped cleanly.');
      expect(performance.now() - stoppedAt).toBeLessThan(20_000); // not the 5 minutes of the items' work
      const items = await db.selectFrom('job_items').select(['status', 'claimed_by']).where('job_id', '=', id).execute();
      expect(items.map((item) => [item.status, item.claimed_by])).toEqual(Array.from({ length: 20 }, () => ['PENDING', null]));

      const second = await startServerProcess({ ...env, QUEUE_ITEM_WORK_MS: '0' });
      servers.push(second);
      expect(lastJob(await subscribe(fetch, `${second.url}/graphql`, progress, { id: String(id) }))).toMatchObject({ status: 'SUCCEEDED', done: 20 });
      const succeeded = await db.selectFrom('job_items').select('id').where('job_id', '=', id).where('status', '=', 'SUCCEEDED').execute();
      const { n } = await db.selectFrom('transfers').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      expect(Number(n)).toBe(succeeded.length);
    } finally {
      await db.destroy();
    }
  }, 60_000);
});

describe.skipIf(!postgres)('replicas draining one job on PostgreSQL', () => {
  let created: CreatedDatabase;
  let servers: ServerProcess[] = [];
  let sql: pg.Client;
  beforeAll(async () => {
    created = await postgres!.create();
    const url = postgresUrlOf(created);
    // A: serves the API and runs no workers; B and C run the workers.
    servers = await Promise.all([
      startServerProcess({ DATABASE_URL: url, QUEUE_CONCURRENCY: '0' }),
      startServerProcess({ DATABASE_URL: url, QUEUE_CONCURRENCY: '4', QUEUE_ITEM_WORK_MS: '2' }),
      startServerProcess({ DATABASE_URL: url, QUEUE_CONCURRENCY: '4', QUEUE_ITEM_WORK_MS: '2' }),
    ]);
    sql = new pg.Client({ connectionString: url });
    await sql.connect();
  }, 60_000);
  afterAll(async () => {
    await stopAll(servers);
    await sql?.end();
    await created?.drop();
  });

  it('shares the work, applies each item once, and a subscriber on an API-only replica sees it all', async () => {
    const total = 1500;
    const { body } = await graphqlRequest(fetch, `${servers[0]!.url}/graphql`, submit, { items: randomItems(total, 50, 100) });
    const id = body.data?.submitTransfers.id as string;
    const events = await subscribe(fetch, `${servers[0]!.url}/graphql`, progress, { id });
    expectOrderedCoalescedStream(events, total);
    expect(events.filter((event) => event.event === 'next').length).toBeGreaterThan(2);

    const { rows: workers } = await sql.query<{ claimed_by: string; items: string }>('SELECT claimed_by, count(*) AS items FROM job_items WHERE job_id = $1 GROUP BY claimed_by', [id]);
    expect(workers).toHaveLength(2);
    const { rows: [counts] } = await sql.query<{ succeeded: string; transfers: string; distinct_transfers: string }>(
      `SELECT count(*) FILTER (WHERE status = 'SUCCEEDED') AS succeeded,
              (SELECT count(*) FROM transfers) AS transfers,
              count(DISTINCT transfer_id) AS distinct_transfers
       FROM job_items WHERE job_id = $1`,
      [id],
    );
    expect(counts?.transfers).toBe(counts?.succeeded);
    expect(counts?.distinct_transfers).toBe(counts?.succeeded);
    const { rows: [money] } = await sql.query<{ total: string; minimum: number }>('SELECT sum(balance) AS total, min(balance) AS minimum FROM accounts');
    expect(money).toEqual({ total: '1000000', minimum: expect.any(Number) });
    expect(money!.minimum).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
