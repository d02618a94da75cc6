import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultQueue } from '../src/config.js';
import { withStatementCache } from '../src/db/connect.js';
import { databases, sqlite } from './helpers/databases.js';
import { createTestApp, graphqlRequest, type TestApp } from './helpers/graphql.js';
import { progress, submit } from './helpers/jobs.js';
import { memoryOf } from './helpers/probe.js';
import { startServerProcess } from './helpers/processes.js';
import { subscribe } from './helpers/sse.js';

/**
 * Caches keyed by SQL text (the compiled lookups, SQLite's prepared statements) stay small only if
 * the SQL texts are finite: a lookup keyed by a client's list must have one SQL text whatever the
 * list's length. These run each such lookup with lists of many lengths and count the SQL texts.
 */
const LENGTHS = Array.from({ length: 30 }, (_, index) => index + 1);

describe.each(databases)('SQL texts on $name', (database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(database, { config: { queue: { ...defaultQueue, concurrency: 1 } } });
  });
  afterAll(() => app.dispose());

  /**
   * The distinct SQL texts of the lookup (`of`) run by `request(length)` over every length, and over
   * the first alone. The queue's worker runs statements of its own meanwhile: `of` leaves them out.
   */
  async function textsOver(of: RegExp, request: (length: number) => Promise<unknown>, lengths = LENGTHS) {
    const texts = () => new Set(app.statements.filter((sql) => of.test(sql)));
    app.resetStatements();
    await request(lengths[0]!);
    const first = texts();
    for (const length of lengths.slice(1)) await request(length);
    return { first, all: texts() };
  }
  const ids = (length: number, from = 1) => Array.from({ length }, (_, index) => String(from + index));
  const ok = async (query: string, variables?: Record<string, unknown>) => {
    const { body } = await app.request(query, variables);
    expect(body.errors).toBeUndefined();
    return body.data!;
  };

  it('looks accounts up with one SQL text whatever the number of ids', async () => {
    const { first, all } = await textsOver(/from "accounts"/, (length) => ok('query ($ids: [ID!]!) { accounts(ids: $ids) { id } }', { ids: ids(length) }));
    expect(first.size).toBe(1);
    expect(all).toEqual(first);
  });

  it("looks accounts' recent transfers up with one SQL text whatever the number of accounts", async () => {
    const { first, all } = await textsOver(/FROM accounts a/, (length) => ok('query ($ids: [ID!]!) { accounts(ids: $ids) { transfers { id } } }', { ids: ids(length, 500) }));
    expect(first.size).toBe(1);
    expect(all).toEqual(first);
  });

  it('looks counters up with one SQL text whatever the number of names', async () => {
    const counters = (length: number) => `{ ${ids(length).map((id) => `c${id}: counter(name: "n${id}") { value }`).join(' ')} }`;
    const { first, all } = await textsOver(/from "counters"/, (length) => ok(counters(length)));
    expect(first.size).toBe(1);
    expect(all).toEqual(first);
  });

  it('finds every counter of a batch, whatever characters its name holds', async () => {
    // Each name would break an array literal or a JSON text written by hand: the list parameter
    // must quote and escape them all.
    const names = ['a,b', '"quoted"', '{braces}', 'back\\slash', 'NULL', ' ', "it's", '[1]', 'ünï \ud83d\ude00', '\\"}{,'];
    for (const [index, name] of names.entries()) await ok('mutation ($name: String!, $by: Int!) { increment(name: $name, by: $by) { value } }', { name, by: index + 1 });
    const query = `query (${names.map((_, index) => `$n${index}: String!`).join(', ')}) { ${names.map((_, index) => `c${index}: counter(name: $n${index}) { name value }`).join(' ')} }`;
    app.resetStatements();
    const data = await ok(query, Object.fromEntries(names.map((name, index) => [`n${index}`, name])));
    expect(app.statements).toHaveLength(1);
    for (const [index, name] of names.entries()) expect(data[`c${index}`]).toEqual({ name, value: index + 1 });
  });

  it("stores a job's items as submitted, whatever characters their account ids hold", async () => {
    const items = ['a,b', '"q"', 'back\\slash', '{}', 'ünï \ud83d\ude00', '12'].map((fromId, index) => ({ fromId, toId: String(index + 1), amount: index + 1 }));
    const id = (await ok(submit, { items })).submitTransfers.id;
    const data = await ok('query ($id: ID!) { job(id: $id) { items { index input { fromId toId amount } } } }', { id });
    expect(data.job.items).toEqual(items.map((item, index) => ({ index, input: item })));
  });

  it('looks jobs up with one SQL text whatever the number of ids', async () => {
    const jobs = (length: number) => `{ ${ids(length).map((id) => `j${id}: job(id: "${id}") { id }`).join(' ')} }`;
    const { first, all } = await textsOver(/from "jobs" where "id"/, (length) => ok(jobs(length)));
    expect(first.size).toBe(1);
    expect(all).toEqual(first);
  });

  it("stores a job's items, and looks their transfers up, with SQL texts that do not depend on the number of items", async () => {
    const items = (length: number) => Array.from({ length }, (_, index) => ({ fromId: String(index + 1), toId: String(index + 2), amount: 1 }));
    const submitted: string[] = [];
    const stored = await textsOver(/insert into "?job_items"?/i, async (length) => submitted.push((await ok(submit, { items: items(length) })).submitTransfers.id), LENGTHS.slice(0, 12));
    expect(stored.first.size).toBe(1);
    expect(stored.all).toEqual(stored.first);

    // Let the worker run every job, so that each item links to its transfer.
    for (const id of submitted) await subscribe(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', progress, { id });
    const last = submitted.at(-1)!;
    const { first, all } = await textsOver(/from "transfers" where/, (length) => ok(`{ job(id: "${last}") { items(limit: ${length}) { transfer { id } } } }`), LENGTHS.slice(0, 12));
    expect(first.size).toBe(1);
    expect(all).toEqual(first);
  });
});

describe('a server process', () => {
  it('keeps its memory whatever the number of distinct list lengths clients send', async () => {
    const { config, drop } = await sqlite.create();
    if (config.dialect !== 'sqlite') throw new Error('expected SQLite');
    // Run as `npm start` runs it, with its heap flags: without them, Node 24's heap sizing let the
    // garbage of 1,000 requests (their log lines included) grow RSS past the bound, no statement kept.
    const server = await startServerProcess({ DATABASE_URL: `file:${config.filename}`, QUEUE_CONCURRENCY: '0' }, [
      process.execPath,
      ['--max-semi-space-size=8', '--heap-growing-percent=50', '--import', 'tsx', 'src/main.ts'],
    ]);
    try {
      const lookUp = async (length: number) => {
        const ids = Array.from({ length }, (_, index) => String(index + 1));
        const { body } = await graphqlRequest(fetch, `${server.url}/graphql`, 'query ($ids: [ID!]!) { accounts(ids: $ids) { id } }', { ids });
        expect(body.data?.accounts).toHaveLength(length);
      };
      // Warm up on a few lengths, then every other length up to 1,000: each used to leave a
      // prepared statement of its own in SQLite's cache (about +90 MB over these lengths).
      for (let length = 1; length <= 20; length += 1) await lookUp(length);
      const before = memoryOf(server.child.pid!).rssMb;
      for (let length = 21; length <= 1000; length += 1) await lookUp(length);
      expect(memoryOf(server.child.pid!).rssMb - before).toBeLessThan(30);
    } finally {
      server.child.kill();
      await server.exited;
      await drop();
    }
  }, 120_000);
});

describe("SQLite's statement cache", () => {
  it('keeps at most its bound of bytes of SQL, the least recently used going first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'statement-cache-'));
    const database = new SQLite(join(dir, 'cache.sqlite'));
    try {
      const cache = withStatementCache(database, { maxEntries: 500, maxBytes: 10_000 });
      // Each a distinct text of about 100 bytes, as a query that wrote client input into its SQL would make.
      const text = (index: number) => `SELECT ${index} AS value, '${'x'.repeat(80)}' AS padding`;
      for (let index = 0; index < 1_000; index += 1) expect(cache.prepare(text(index)).all([])).toMatchObject([{ value: index }]);
      expect(cache.cached.bytes).toBeLessThanOrEqual(10_000);
      expect(cache.cached.entries).toBeLessThan(110);
      // The newest are kept, so the texts in use are still served from the cache.
      expect(cache.prepare(text(999))).toBe(cache.prepare(text(999)));
      cache.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
