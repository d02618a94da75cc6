import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases } from './helpers/databases.js';
import { createTestApp, errorCodes, type TestApp } from './helpers/graphql.js';

const transfer = `mutation ($fromId: ID!, $toId: ID!, $amount: Int!) {
  transfer(fromId: $fromId, toId: $toId, amount: $amount) { id amount createdAt from { id balance } to { id balance } }
}`;

type State = { balances: number[]; transfers: number };

/** Balances of the given accounts and the number of transfers, read through the API and the table. */
async function snapshot(app: TestApp, ids: string[]): Promise<State> {
  const { body } = await app.request('query ($ids: [ID!]!) { accounts(ids: $ids) { balance } }', { ids });
  const { count } = await app.db.selectFrom('transfers').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return { balances: (body.data?.accounts as { balance: number }[]).map((account) => account.balance), transfers: Number(count) };
}

const allIds = Array.from({ length: 1000 }, (_, index) => String(index + 1));

async function totalAndMinimum(app: TestApp) {
  const { balances } = await snapshot(app, allIds);
  return { total: balances.reduce((sum, balance) => sum + balance, 0), minimum: Math.min(...balances) };
}

/** Random transfers among the first `accounts` accounts, with every pair also sent in the opposite direction. */
function randomTransfers(app: TestApp, count: number, accounts: number) {
  return Array.from({ length: count }, (_, index) => {
    const a = 1 + Math.floor(Math.random() * accounts);
    const b = 1 + ((a + Math.floor(Math.random() * (accounts - 1))) % accounts);
    const [fromId, toId] = index % 2 ? [a, b] : [b, a];
    return app.request(transfer, { fromId: String(fromId), toId: String(toId), amount: 1 + Math.floor(Math.random() * 400) });
  });
}

describe.each(databases)('transfer on $name', (database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(database);
  });
  afterAll(() => app.dispose());

  it('moves money, records the transfer and shows the balances right after it', async () => {
    const { status, body } = await app.request(transfer, { fromId: '1', toId: '2', amount: 250 });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.transfer).toMatchObject({ amount: 250, from: { id: '1', balance: 750 }, to: { id: '2', balance: 1250 } });
    expect(new Date(body.data?.transfer.createdAt).toISOString()).toBe(body.data?.transfer.createdAt);
    const { body: read } = await app.request('{ account(id: "1") { balance transfers(last: 1) { id amount } } }');
    expect(read.data?.account).toEqual({ balance: 750, transfers: [{ id: body.data?.transfer.id, amount: 250 }] });
  });

  it('shows each transfer its own balances when one operation makes several', async () => {
    const { body } = await app.request(`mutation {
      a: transfer(fromId: "3", toId: "4", amount: 100) { from { balance } to { balance } }
      b: transfer(fromId: "3", toId: "4", amount: 100) { from { balance } to { balance } }
    }`);
    expect(body.data).toEqual({
      a: { from: { balance: 900 }, to: { balance: 1100 } },
      b: { from: { balance: 800 }, to: { balance: 1200 } },
    });
  });

  it.each([
    ['a zero amount', { fromId: '5', toId: '6', amount: 0 }, 'BAD_USER_INPUT', 'amount must be between 1 and 2147483647; got 0.'],
    ['a negative amount', { fromId: '5', toId: '6', amount: -5 }, 'BAD_USER_INPUT', 'amount must be between 1 and 2147483647; got -5.'],
    ['the same account twice', { fromId: '5', toId: '5', amount: 1 }, 'BAD_USER_INPUT', 'fromId and toId must name two different accounts.'],
    ['an unknown payer', { fromId: '5000', toId: '6', amount: 1 }, 'NOT_FOUND', 'Account "5000" was not found.'],
    ['an unknown payee', { fromId: '5', toId: '6000', amount: 1 }, 'NOT_FOUND', 'Account "6000" was not found.'],
    ['a non-numeric id', { fromId: 'abc', toId: '6', amount: 1 }, 'NOT_FOUND', 'Account "abc" was not found.'],
    ['more than the balance', { fromId: '5', toId: '6', amount: 1001 }, 'INSUFFICIENT_FUNDS', 'Account "5" has a balance of 1000, less than the 1001 requested.'],
    // The order of checks: ranges, then existence, then funds.
    ['a bad amount to an unknown account', { fromId: '5', toId: 'nope', amount: 0 }, 'BAD_USER_INPUT', 'amount must be between 1 and 2147483647; got 0.'],
    ['too much to an unknown account', { fromId: '5', toId: '7000', amount: 5000 }, 'NOT_FOUND', 'Account "7000" was not found.'],
  ])('refuses %s with %s and leaves no trace', async (_, variables, code, message) => {
    const before = await snapshot(app, ['5', '6']);
    const { status, body } = await app.request(transfer, variables);
    expect(status).toBe(200);
    expect(body.data).toBeNull();
    expect(errorCodes(body)).toEqual([code]);
    expect(body.errors?.[0]?.message).toBe(message);
    expect(await snapshot(app, ['5', '6'])).toEqual(before);
  });

  it('conserves the total, never overdraws and never deadlocks under random concurrent transfers', async () => {
    const results = await Promise.all(randomTransfers(app, 600, 20));
    const codes = results.flatMap(({ body }) => errorCodes(body));
    expect(codes.every((code) => code === 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(results.filter(({ body }) => !body.errors).length).toBeGreaterThan(0);
    const { total, minimum } = await totalAndMinimum(app);
    expect(total).toBe(1_000_000);
    expect(minimum).toBeGreaterThanOrEqual(0);
  });
});
