import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { databases } from './helpers/databases.js';
import { createTestApp, errorCodes, type TestApp } from './helpers/graphql.js';

const ids = (from: number, count: number) => Array.from({ length: count }, (_, index) => String(from + index));

describe.each(databases)('accounts on $name', (database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(database);
  });
  afterAll(() => app.dispose());
  beforeEach(() => app.resetStatements());

  it('is seeded with accounts "1" to "1000", each holding 1000 under a readable name', async () => {
    const { body } = await app.request('query ($ids: [ID!]!) { accounts(ids: $ids) { id name balance } }', { ids: ids(1, 1000) });
    const accounts = body.data?.accounts as { id: string; name: string; balance: number }[];
    expect(accounts.map((account) => account.id)).toEqual(ids(1, 1000));
    expect(accounts.every((account) => account.balance === 1000)).toBe(true);
    expect(new Set(accounts.map((account) => account.name)).size).toBe(1000);
    expect(accounts[0]?.name).toBe('Ada Lovelace');
    const missing = await app.request('{ account(id: "1001") { id } }');
    expect(missing.body).toEqual({ data: { account: null } });
  });

  it('returns accounts in the order of ids, duplicates included, with null for unknown ids', async () => {
    const { status, body } = await app.request(
      '{ accounts(ids: ["3", "1", "abc", "3", "0", "01", "-2", "99999999999", "1001", "2"]) { id } }',
    );
    expect(status).toBe(200);
    expect(body).toEqual({ data: { accounts: [{ id: '3' }, { id: '1' }, null, { id: '3' }, null, null, null, null, null, { id: '2' }] } });
  });

  it('loads 100 accounts with one SQL statement', async () => {
    const { body } = await app.request('query ($ids: [ID!]!) { accounts(ids: $ids) { id name balance } }', { ids: ids(1, 100) });
    expect(body.data?.accounts).toHaveLength(100);
    expect(app.statements).toHaveLength(1);
  });

  it('answers 33 aliases of 1,000 distinct ids each, in statements of at most 1,000 ids', async () => {
    // 33,000 lookups, under the cost limit: one statement for all of them passed SQLite's bound
    // of 32,766 parameters ("too many SQL variables").
    const aliases = Array.from({ length: 33 }, (_, index) => index);
    const query = `query (${aliases.map((index) => `$v${index}: [ID!]!`).join(', ')}) { ${aliases.map((index) => `a${index}: accounts(ids: $v${index}) { id }`).join(' ')} }`;
    const variables = Object.fromEntries(aliases.map((index) => [`v${index}`, ids(1 + index * 1000, 1000)]));
    const { body } = await app.request(query, variables);
    expect(body.errors).toBeUndefined();
    expect(body.data?.a0.map((account: { id: string }) => account.id)).toEqual(ids(1, 1000));
    expect(body.data?.a1.every((account: unknown) => account === null)).toBe(true);
    expect(app.statements).toHaveLength(33);
  });

  it('coalesces aliased account fields and the list into one statement', async () => {
    const { body } = await app.request('{ a: account(id: "5") { name } b: account(id: "6") { name } c: account(id: "nope") { name } accounts(ids: ["7", "5"]) { id } }');
    expect(body.data?.a).toEqual({ name: expect.any(String) });
    expect(body.data?.c).toBeNull();
    expect(app.statements).toHaveLength(1);
  });

  it.each([
    [0, 'ids (count) must be between 1 and 1000; got 0.'],
    [1001, 'ids (count) must be between 1 and 1000; got 1001.'],
  ])('refuses %i ids with BAD_USER_INPUT', async (count, message) => {
    const { body } = await app.request('query ($ids: [ID!]!) { accounts(ids: $ids) { id } }', { ids: ids(1, count) });
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors?.[0]?.message).toBe(message);
    expect(app.statements).toHaveLength(0);
  });

  describe('transfers', () => {
    beforeAll(async () => {
      // Accounts 101..150 each pay the next one twice, so each has transfers in and out.
      for (let round = 0; round < 2; round += 1) {
        for (let id = 101; id < 150; id += 1) {
          const { body } = await app.request(`mutation { transfer(fromId: "${id}", toId: "${id + 1}", amount: ${round + 1}) { id } }`);
          expect(body.errors).toBeUndefined();
        }
      }
    });

    it('lists the newest transfers first, in and out, cut to `last`', async () => {
      const { body } = await app.request('{ account(id: "120") { transfers(last: 3) { amount from { id } to { id } } } }');
      expect(body.data?.account.transfers).toEqual([
        { amount: 2, from: { id: '120' }, to: { id: '121' } },
        { amount: 2, from: { id: '119' }, to: { id: '120' } },
        { amount: 1, from: { id: '120' }, to: { id: '121' } },
      ]);
      const none = await app.request('{ account(id: "900") { transfers { id } } }');
      expect(none.body.data?.account.transfers).toEqual([]);
    });

    it('costs a constant number of statements whatever the number of accounts', async () => {
      const query = 'query ($ids: [ID!]!) { accounts(ids: $ids) { transfers { amount from { name } to { name } } } }';
      const few = await app.request(query, { ids: ids(101, 5) });
      const fewStatements = app.statements.length;
      app.resetStatements();
      const many = await app.request(query, { ids: ids(101, 50) });
      expect(few.body.errors).toBeUndefined();
      expect(many.body.errors).toBeUndefined();
      expect((many.body.data?.accounts as { transfers: unknown[] }[]).every((account) => account.transfers.length > 0)).toBe(true);
      // The accounts, all their transfers, then the from/to accounts not loaded yet (none, when
      // every account at either end is one of the accounts asked for).
      expect(fewStatements).toBe(3);
      expect(app.statements.length).toBeLessThanOrEqual(3);
    });

    it('shares one statement between different `last` values in one operation', async () => {
      const { body } = await app.request('{ a: account(id: "110") { transfers(last: 1) { id } } b: account(id: "111") { transfers(last: 4) { id } } }');
      expect(body.data?.a.transfers).toHaveLength(1);
      expect(body.data?.b.transfers).toHaveLength(4);
      expect(app.statements).toHaveLength(2);
    });

    it.each([0, 101])('refuses last: %i with BAD_USER_INPUT', async (last) => {
      const { body } = await app.request(`{ account(id: "1") { transfers(last: ${last}) { id } } }`);
      expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors?.[0]?.message).toBe(`last must be between 1 and 100; got ${last}.`);
    });
  });
});
