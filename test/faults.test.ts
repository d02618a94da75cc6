import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/http/server.js';
import { postgres, postgresUrlOf, type CreatedDatabase } from './helpers/databases.js';
import { createTestApp, errorCodes, graphqlRequest, type TestApp } from './helpers/graphql.js';
import { serve } from './helpers/server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/wait-for.js';

const increment = 'mutation ($name: String!, $workMs: Int!) { increment(name: $name, workMs: $workMs) { value } }';
const transfer = 'mutation { transfer(fromId: "1", toId: "2", amount: 10) { id } }';

describe.skipIf(!postgres)('when PostgreSQL goes away', () => {
  let database: CreatedDatabase;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let app: TestApp;
  let server: RunningServer;
  let admin: pg.Client;
  let url: string;
  const post = (query: string, variables?: Record<string, unknown>) => graphqlRequest(fetch, `${url}/graphql`, query, variables);
  const balances = async () => {
    const { rows } = await admin.query<{ id: number; balance: number }>('SELECT id, balance FROM accounts WHERE id IN (1, 2) ORDER BY id');
    return rows.map((row) => row.balance);
  };

  beforeAll(async () => {
    if (!postgres) return;
    // The app reaches its own database through a proxy that the test can cut.
    const created = await postgres.create();
    database = created;
    const direct = new URL(postgresUrlOf(created));
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = new URL(direct);
    viaProxy.port = String(proxy.port);
    app = await createTestApp({ name: 'postgres', create: async () => ({ config: { ...created.config, url: viaProxy.toString() } as typeof created.config, drop: async () => undefined }) });
    server = await serve(app);
    url = server.url;
    // Not under the app's application_name: terminating the app's connections must spare this one.
    const adminUrl = new URL(postgresUrlOf(created));
    adminUrl.searchParams.delete('application_name');
    admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
  });
  afterAll(async () => {
    proxy?.restore();
    await server?.shutdown(0);
    await app?.dispose();
    await proxy?.close();
    await admin?.end();
    await database?.drop();
  });

  it('fails requests within 5 s with DATABASE_UNAVAILABLE, answers 503 on /readiness, and recovers by itself', async () => {
    expect((await fetch(`${url}/readiness`)).status).toBe(200);
    const before = await balances();

    proxy.cut();
    const startedAt = performance.now();
    const [read, write] = await Promise.all([post('{ account(id: "1") { balance } }'), post(transfer)]);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    expect(errorCodes(read.body)).toEqual(['DATABASE_UNAVAILABLE']);
    expect(errorCodes(write.body)).toEqual(['DATABASE_UNAVAILABLE']);
    expect(read.status).toBe(200);
    expect((await fetch(`${url}/readiness`)).status).toBe(503);
    expect((await fetch(`${url}/health`)).status).toBe(200);

    proxy.restore();
    await waitFor(async () => (await fetch(`${url}/readiness`)).status === 200);
    expect((await post(transfer)).body.errors).toBeUndefined();
    // The transfer refused while the database was away left nothing behind; the one after it moved 10.
    expect(await balances()).toEqual([before[0]! - 10, before[1]! + 10]);
  });

  it('rolls back a mutation whose connection is terminated while it holds its lock, and serves the next one', async () => {
    const inFlight = post(increment, { name: 'terminated', workMs: 1_000 });
    await waitFor(async () => (await admin.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted`)).rows.length > 0);
    const startedAt = performance.now();
    const applicationName = new URL(postgresUrlOf(database)).searchParams.get('application_name');
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    const { body } = await inFlight;
    expect(errorCodes(body)).toEqual(['DATABASE_UNAVAILABLE']);
    expect(performance.now() - startedAt).toBeLessThan(5_000);

    // The increment never committed, the lock went with its connection, and the pool reconnects.
    expect((await post(increment, { name: 'terminated', workMs: 0 })).body.data?.increment.value).toBe(1);
  });
});
