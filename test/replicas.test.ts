import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres, postgresUrlOf, type CreatedDatabase } from './helpers/databases.js';
import { errorCodes, graphqlRequest, type GraphQLBody } from './helpers/graphql.js';
import { startServerProcess, type ServerProcess } from './helpers/processes.js';
import { waitFor } from './helpers/wait-for.js';

const increment = 'mutation ($name: String!, $workMs: Int!) { increment(name: $name, workMs: $workMs) { value } }';
const transfer = 'mutation ($fromId: ID!, $toId: ID!, $amount: Int!) { transfer(fromId: $fromId, toId: $toId, amount: $amount) { id } }';
const allIds = Array.from({ length: 1000 }, (_, index) => String(index + 1));

/**
 * Several server processes on one PostgreSQL database, over real HTTP: the guarantees that an
 * in-process mutex cannot give must hold across replicas.
 */
describe.skipIf(!postgres)('replicas on one PostgreSQL database', () => {
  let database: CreatedDatabase;
  let replicas: ServerProcess[] = [];
  let sql: pg.Client;
  const post = (replica: number, query: string, variables: Record<string, unknown>) =>
    graphqlRequest(fetch, `${replicas[replica % replicas.length]!.url}/graphql`, query, variables);

  beforeAll(async () => {
    database = await postgres!.create();
    // All three start at once: their migrations race, and the seed must still be applied once.
    replicas = await Promise.all(
      Array.from({ length: 3 }, () => startServerProcess({ DATABASE_URL: postgresUrlOf(database), DATABASE_POOL_SIZE: '5' })),
    );
    sql = new pg.Client({ connectionString: postgresUrlOf(database) });
    await sql.connect();
  }, 60_000);
  afterAll(async () => {
    for (const replica of replicas) replica.child.kill('SIGKILL');
    await Promise.all(replicas.map((replica) => replica.exited));
    await sql?.end();
    await database?.drop();
  });

  const totals = async () => {
    const { body } = await post(0, 'query ($ids: [ID!]!) { accounts(ids: $ids) { balance } }', { ids: allIds });
    const balances = (body.data?.accounts as { balance: number }[]).map((account) => account.balance);
    return { total: balances.reduce((sum, balance) => sum + balance, 0), minimum: Math.min(...balances), count: balances.length };
  };

  it('migrates and seeds once, however many replicas start together', async () => {
    const { rows } = await sql.query<{ count: string }>('SELECT count(*) FROM accounts');
    expect(rows[0]?.count).toBe('1000');
    expect(await totals()).toMatchObject({ total: 1_000_000, count: 1000 });
  });

  it('never loses an increment when the requests land on different replicas', async () => {
    const count = 120;
    const results = await Promise.all(Array.from({ length: count }, (_, index) => post(index, increment, { name: 'shared', workMs: 5 })));
    expect(results.flatMap(({ body }) => errorCodes(body))).toEqual([]);
    const { body } = await post(1, '{ counter(name: "shared") { value } }', {});
    expect(body.data?.counter.value).toBe(count);
  });

  it('conserves money, never overdraws, records each transfer once and never deadlocks across replicas', async () => {
    const before = Number((await sql.query<{ count: string }>('SELECT count(*) FROM transfers')).rows[0]?.count);
    const requests = Array.from({ length: 450 }, (_, index) => {
      const a = 1 + Math.floor(Math.random() * 15);
      const b = 1 + ((a + Math.floor(Math.random() * 14)) % 15);
      // Every other transfer goes the opposite way: the pairs that would deadlock with unordered locks.
      const [fromId, toId] = index % 2 ? [a, b] : [b, a];
      return post(index, transfer, { fromId: String(fromId), toId: String(toId), amount: 1 + Math.floor(Math.random() * 300) });
    });
    const startedAt = performance.now();
    const results: { body: GraphQLBody }[] = await Promise.all(requests);
    expect(performance.now() - startedAt).toBeLessThan(30_000);

    const codes = results.flatMap(({ body }) => errorCodes(body));
    expect(codes.filter((code) => code !== 'INSUFFICIENT_FUNDS')).toEqual([]);
    const succeeded = results.filter(({ body }) => !body.errors).map(({ body }) => body.data?.transfer.id as string);
    expect(succeeded.length).toBeGreaterThan(0);
    const { rows } = await sql.query<{ id: number }>('SELECT id FROM transfers ORDER BY id');
    expect(rows).toHaveLength(before + succeeded.length);
    expect(new Set(succeeded).size).toBe(succeeded.length);
    const { total, minimum } = await totals();
    expect(total).toBe(1_000_000);
    expect(minimum).toBeGreaterThanOrEqual(0);
  });

  it('a replica killed with SIGKILL mid-request leaves no lock held and nothing half-written', async () => {
    const victim = replicas[2]!;
    // The victim holds the counter's lock inside a transaction, in the middle of its work…
    const doomed = post(2, increment, { name: 'crash', workMs: 5_000 }).catch((error: Error) => error);
    await waitFor(async () => {
      const { rows } = await sql.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted`);
      return rows.length > 0;
    });
    // …and also has transfers in flight when it dies.
    const inFlight = Array.from({ length: 20 }, (_, index) => post(2, transfer, { fromId: String(100 + index), toId: String(200 + index), amount: 10 }).catch((error: Error) => error));
    victim.child.kill('SIGKILL');
    expect(await doomed).toBeInstanceOf(Error);
    await Promise.all(inFlight);
    replicas = replicas.slice(0, 2);

    // The lock died with the victim's connection: another replica gets it at once, and the
    // victim's uncommitted write is gone.
    const startedAt = performance.now();
    const { body } = await post(0, increment, { name: 'crash', workMs: 0 });
    expect(body.data?.increment.value).toBe(1);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    const { total, minimum } = await totals();
    expect(total).toBe(1_000_000);
    expect(minimum).toBeGreaterThanOrEqual(0);
  });
});

