import { afterEach, describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../src/config.js';
import { databases, type CreatedDatabase } from './helpers/databases.js';
import { graphqlRequest } from './helpers/graphql.js';
import { progress, randomItems, submit } from './helpers/jobs.js';
import { startProbe, type ProbeReport } from './helpers/probe.js';
import { startServerProcess, type ServerProcess } from './helpers/processes.js';
import { openStreams, type StreamPool } from './helpers/sse-streams.js';

const databaseUrl = (config: DatabaseConfig) => (config.dialect === 'postgres' ? config.url : `file:${config.filename}`);

/** Whether `promise` settles within `ms`: an attack that stalls the server fails the test, not its timeout. */
async function within(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the other users see: every probe answered, the slowest within 1 s, the server still up. */
function expectStillServing(report: ProbeReport, server: ServerProcess) {
  expect(report.failed).toBe(0);
  expect(report.answered).toBeGreaterThan(0);
  expect(report.slowestMs).toBeLessThan(1_000);
  expect(server.child.exitCode).toBeNull();
}

/**
 * Thousands of jobProgress streams against a server in a process of its own (an attack that blocks
 * its event loop must not block the test runner), while a probe asks `{ hello(delayMs: 0) }` again
 * and again, as any other client would. Before one reader per job and the event budget, every
 * subscriber re-read its job and executed its selection on every change: 500 watchers of a running
 * job held the probe up for 1.2 s, and 2,000 idle ones given a cancelJob for 2.8 s.
 *
 * NODE_ENV=production: under `test`, Yoga pings every SSE stream each 300 ms instead of 12 s.
 */
describe.each(databases)('thousands of subscribers on $name', (database) => {
  let created: CreatedDatabase | undefined;
  let server: ServerProcess | undefined;
  let pool: StreamPool | undefined;
  afterEach(async () => {
    pool?.close();
    server?.child.kill('SIGKILL');
    await server?.exited;
    await created?.drop();
    [created, server, pool] = [undefined, undefined, undefined];
  });

  const start = async (env: Record<string, string>) => {
    created = await database.create();
    server = await startServerProcess({ DATABASE_URL: databaseUrl(created.config), NODE_ENV: 'production', ...env });
    return server;
  };

  it('answers a concurrent { hello } within 1 s while 1,500 subscribers watch a running job, and every one of them gets its progress', async () => {
    // Two workers, 10 ms per item: the 10,000 items run for longer than the test.
    const { url } = await start({ QUEUE_CONCURRENCY: '2', QUEUE_ITEM_WORK_MS: '10' });
    const { body } = await graphqlRequest(fetch, `${url}/graphql`, submit, { items: randomItems(10_000, 100, 1) });
    const id = body.data?.submitTransfers.id as string;

    pool = openStreams(url, 1_500, progress, { id });
    expect(await within(40_000, pool.eachReceived(1))).toBe(true);

    const probe = startProbe(url);
    // Two changes more on every stream: the job's progress reaches every subscriber meanwhile.
    const everyoneProgressed = await within(30_000, pool.eachReceived(3));
    const report = await probe.stop();

    expect(everyoneProgressed).toBe(true);
    expect(pool.streams.filter((stream) => stream.ended)).toHaveLength(0);
    expect(pool.streams.every((stream) => stream.last()?.data?.jobProgress.status === 'RUNNING')).toBe(true);
    expectStillServing(report, server!);
  }, 90_000);

  it('answers a concurrent { hello } within 1 s while 2,000 idle subscribers are sent a cancelJob, and every one of them gets the final state', async () => {
    const { url } = await start({ QUEUE_CONCURRENCY: '0' });
    const { body } = await graphqlRequest(fetch, `${url}/graphql`, submit, { items: randomItems(100, 100, 1) });
    const id = body.data?.submitTransfers.id as string;
    pool = openStreams(url, 2_000, progress, { id });
    expect(await within(40_000, pool.eachReceived(1))).toBe(true);

    const probe = startProbe(url);
    const cancelled = await graphqlRequest(fetch, `${url}/graphql`, `mutation { cancelJob(id: "${id}") { status } }`);
    const allEnded = await within(30_000, pool.allEnded());
    const report = await probe.stop();

    expect(cancelled.body).toEqual({ data: { cancelJob: { status: 'CANCELLED' } } });
    expect(allEnded).toBe(true);
    expect(pool.streams.filter((stream) => !stream.completed)).toHaveLength(0);
    expect(pool.streams.every((stream) => stream.last()?.data?.jobProgress.status === 'CANCELLED')).toBe(true);
    expectStillServing(report, server!);
  }, 90_000);
});
