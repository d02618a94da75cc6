import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres, postgresUrlOf, type CreatedDatabase } from './helpers/databases.js';
import { graphqlRequest, type GraphQLBody } from './helpers/graphql.js';
import { connectWs, wsOperation } from './helpers/graphql-ws.js';
import { progress, randomItems, submit } from './helpers/jobs.js';
import { startServerProcess, type ServerProcess } from './helpers/processes.js';

/**
 * Two server processes on one PostgreSQL database: one runs the queue, the other only serves. A
 * client of the second, on graphql-ws, sees the progress the first makes.
 */
describe.skipIf(!postgres)('graphql-ws across replicas', () => {
  let database: CreatedDatabase;
  let worker: ServerProcess;
  let server: ServerProcess;

  beforeAll(async () => {
    database = await postgres!.create();
    const env = { DATABASE_URL: postgresUrlOf(database), DATABASE_POOL_SIZE: '4' };
    worker = await startServerProcess({ ...env, QUEUE_ITEM_WORK_MS: '5' });
    server = await startServerProcess({ ...env, QUEUE_CONCURRENCY: '0' });
  }, 60_000);
  afterAll(async () => {
    for (const replica of [worker, server]) replica?.child.kill('SIGKILL');
    await Promise.all([worker?.exited, server?.exited]);
    await database?.drop();
  });

  it("delivers a job's progress to completion to a graphql-ws client of a replica that runs no workers", async () => {
    const { body } = await graphqlRequest(fetch, `${worker.url}/graphql`, submit, { items: randomItems(300, 50, 5) });
    const id = body.data?.submitTransfers.id as string;
    const client = connectWs(server.url);
    try {
      const events: GraphQLBody[] = await wsOperation(client, { query: progress, variables: { id } });
      const jobs = events.map((event) => event.data?.jobProgress as { status: string; done: number });
      expect(jobs.at(-1)).toMatchObject({ status: 'SUCCEEDED', done: 300 });
      // Progress, not only the end: the job was running on the other replica while this one watched.
      expect(jobs.some((job) => job.done < 300)).toBe(true);
      expect(jobs.map((job) => job.done)).toEqual([...jobs.map((job) => job.done)].sort((a, b) => a - b));
    } finally {
      await client.dispose();
    }
  });
});
