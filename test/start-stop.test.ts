import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClone } from './helpers/clone.js';
import { postgres, postgresUrlOf, type CreatedDatabase } from './helpers/databases.js';
import { graphqlRequest } from './helpers/graphql.js';
import { startNpmStart, type NpmStart } from './helpers/processes.js';

const hello = (url: string) => graphqlRequest(fetch, `${url}/graphql`, '{ hello(delayMs: 0) }');

/**
 * A request the server has surely read: it is sent, then a second request on another connection is
 * answered. The server accepts and reads its connections in the order they arrive, so once the
 * second is answered the first is in its hands, waiting on its timer.
 */
async function requestInFlight(url: string, delayMs: number): Promise<{ answer: Promise<{ status: number; body: string }> }> {
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query: `{ hello(delayMs: ${delayMs}) }` }));
  });
  // Seen by the caller only if it is not yet settled: a reset connection fails the test there.
  answer.catch(() => undefined);
  expect((await hello(url)).body.data?.hello).toBe('Hello, World');
  return { answer };
}

/** Waits until the server's log says `text`; the log is a file, re-read until then. */
async function logSays(server: NpmStart, text: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!server.log().includes(text)) {
    if (Date.now() > deadline) throw new Error(`the log never said "${text}":\n${server.log()}`);
    await pause(20);
  }
}

describe('npm start from a fresh clone', () => {
  const clone = freshClone();
  const started: NpmStart[] = [];
  const start = (env: Record<string, string>) => {
    const server = startNpmStart(clone.dir, env);
    started.push(server);
    return server;
  };
  const sqlite = (name: string) => ({ DATABASE_URL: `file:${join(clone.dir, 'data', `${name}.sqlite`)}` });

  afterAll(async () => {
    for (const server of started) {
      try {
        server.signalGroup('SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.all(started.map((server) => server.exited));
    clone.remove();
  });

  it('brings up three servers started at the same moment, each on its own SQLite file', async () => {
    // A fresh clone has no build: all three compile at once, and none may load a half-written one.
    const servers = ['a', 'b', 'c'].map((name) => start(sqlite(name)));
    const urls = await Promise.all(servers.map((server) => server.url));
    for (const url of urls) expect((await hello(url)).body.data?.hello).toBe('Hello, World');
    for (const server of servers) server.signalGroup('SIGTERM');
    expect((await Promise.all(servers.map((server) => server.exited))).map((exit) => exit.code)).toEqual([0, 0, 0]);
  }, 180_000);

  describe.skipIf(!postgres)('on PostgreSQL', () => {
    let database: CreatedDatabase;
    beforeAll(async () => {
      database = await postgres!.create();
    });
    afterAll(() => database?.drop());

    it('brings up three replicas started at the same moment on one database', async () => {
      const servers = Array.from({ length: 3 }, () => start({ DATABASE_URL: postgresUrlOf(database), DATABASE_POOL_SIZE: '3' }));
      const urls = await Promise.all(servers.map((server) => server.url));
      for (const url of urls) expect((await graphqlRequest(fetch, `${url}/graphql`, '{ account(id: "1000") { balance } }')).body.data?.account.balance).toBe(1000);
      for (const server of servers) server.signalGroup('SIGTERM');
      expect((await Promise.all(servers.map((server) => server.exited))).map((exit) => exit.code)).toEqual([0, 0, 0]);
    }, 180_000);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('answers the request in flight, closes the database and exits 0 on %s to the process group', async (signal) => {
    const env = sqlite(`stop-${signal}`);
    const server = start(env);
    const { answer } = await requestInFlight(await server.url, 1500);
    // As a terminal's Ctrl-C does: npm and the server both get it, and npm forwards a second copy.
    server.signalGroup(signal);
    expect(await answer).toEqual({ status: 200, body: '{"data":{"hello":"Hello, World"}}' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.log()).toContain('Stopped cleanly.');
    // SQLite removes its write-ahead log when the last connection closes cleanly.
    const file = env.DATABASE_URL.slice('file:'.length);
    expect(existsSync(file)).toBe(true);
    expect(existsSync(`${file}-wal`)).toBe(false);
  }, 120_000);

  it('exits 0 on SIGTERM sent to npm alone, which forwards it', async () => {
    const server = start(sqlite('npm-alone'));
    expect((await hello(await server.url)).body.data?.hello).toBe('Hello, World');
    process.kill(server.pgid, 'SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.log()).toContain('Stopped cleanly.');
  }, 120_000);

  it('does not cut the drain short on a second Ctrl-C, and stops at once on a third', async () => {
    const server = start(sqlite('presses'));
    const url = await server.url;
    const { answer: slow } = await requestInFlight(url, 4000);
    server.signalGroup('SIGINT');
    await logSays(server, 'SIGINT: no new connections');
    // A person's second press comes later than npm's copy of the first (which counts as the same press).
    await pause(400);
    server.signalGroup('SIGINT');
    await logSays(server, 'SIGINT again: still stopping gracefully');
    expect(await slow).toEqual({ status: 200, body: '{"data":{"hello":"Hello, World"}}' });
    expect(await server.exited).toEqual({ code: 0, signal: null });

    const impatient = start(sqlite('presses'));
    const { answer: abandoned } = await requestInFlight(await impatient.url, 10_000);
    const startedAt = performance.now();
    for (const press of [1, 2, 3]) {
      impatient.signalGroup('SIGINT');
      await logSays(impatient, press === 1 ? 'SIGINT: no new connections' : press === 2 ? 'SIGINT again' : 'stopping at once');
      if (press < 3) await pause(400);
    }
    expect(await impatient.exited).toEqual({ code: 130, signal: null });
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    await expect(abandoned).rejects.toThrow();
  }, 120_000);

  it('runs the code as it is now: a change to src/ is compiled by the next npm start', async () => {
    const file = join(clone.dir, 'src/graphql/schema/hello.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace('`Hello, ${name}`', '`Howdy, ${name}`'));
    const server = start(sqlite('changed'));
    const { body } = await hello(await server.url);
    expect(body.data?.hello).toBe('Howdy, World');
    server.signalGroup('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 120_000);
});
