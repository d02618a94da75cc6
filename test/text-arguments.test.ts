import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLimits } from '../src/config.js';
import { databases } from './helpers/databases.js';
import { createTestApp, errorCodes, graphqlRequest, type GraphQLBody, type TestApp } from './helpers/graphql.js';
import { submit } from './helpers/jobs.js';
import { serve } from './helpers/server.js';
import { subscribe } from './helpers/sse.js';

const increment = 'mutation ($name: String!) { increment(name: $name) { name value } }';

/** A refusal before anything ran: one BAD_USER_INPUT naming the argument, no data, HTTP 400. */
function expectRefused({ status, body }: { status: number; body: GraphQLBody }, argument: string, message: RegExp) {
  expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
  expect(body.errors?.[0]?.extensions?.argument).toBe(argument);
  expect(body.errors?.[0]?.message).toMatch(message);
  expect(body.data).toBeUndefined();
  expect(status).toBe(400);
}

describe.each(databases)('string arguments on $name', (database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(database);
  });
  afterAll(() => app.dispose());

  const rowCounts = async () => ({
    counters: Number((await app.db.selectFrom('counters').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
    jobs: Number((await app.db.selectFrom('jobs').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
    transfers: Number((await app.db.selectFrom('transfers').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
  });

  it('refuses a NUL in a counter name, an account id or an idempotency key, literal or variable, and changes nothing', async () => {
    const before = await rowCounts();
    expectRefused(await app.request('mutation { increment(name: "a\\u0000b") { value } }'), 'name', /^name must not contain NUL \(U\+0000\); found one at index 1\.$/);
    expectRefused(await app.request(increment, { name: 'a\u0000b' }), 'name', /^name \(from variable \$name\) must not contain NUL/);
    expectRefused(await app.request('{ counter(name: "\\u0000") { value } }'), 'name', /NUL/);
    expectRefused(await app.request('{ account(id: "1\\u0000") { id } }'), 'id', /NUL/);
    expectRefused(await app.request('mutation { transfer(fromId: "1", toId: "2\\u0000", amount: 1) { id } }'), 'toId', /NUL/);
    expectRefused(await app.request(submit, { items: [{ fromId: '1', toId: '2', amount: 1 }], key: 'key\u0000' }), 'idempotencyKey', /NUL/);
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses lone surrogates, so that two names never collapse into one counter', async () => {
    const before = await rowCounts();
    for (const name of ['\ud800', '\udbff', 'a\udc00', 'x\ud83d']) {
      expectRefused(await app.request(increment, { name }), 'name', /must be well-formed Unicode; found a lone surrogate at index/);
    }
    expectRefused(await app.request('query ($name: String!) { counter(name: $name) { value } }', { name: '\ud800' }), 'name', /lone surrogate at index 0/);
    expect(await rowCounts()).toEqual(before);

    // A surrogate pair is one character, well-formed: it is stored and read back as sent.
    const emoji = 'visits \ud83d\ude00';
    expect((await app.request(increment, { name: emoji })).body.data?.increment).toEqual({ name: emoji, value: 1 });
    expect((await app.request('query ($name: String!) { counter(name: $name) { name value } }', { name: emoji })).body.data?.counter).toEqual({ name: emoji, value: 1 });
  });

  it('names the element of a list or the field of an input object, as deep as it is', async () => {
    const before = await rowCounts();
    expectRefused(await app.request('query ($ids: [ID!]!) { accounts(ids: $ids) { id } }', { ids: ['1', '2', '\ud800'] }), 'ids[2]', /^ids\[2\] \(from variable \$ids\) must be well-formed Unicode/);
    expectRefused(await app.request('{ accounts(ids: ["1", "\\u0000"]) { id } }'), 'ids[1]', /NUL/);
    const items = [{ fromId: '1', toId: '2', amount: 1 }, { fromId: '3', toId: '4\u0000', amount: 1 }];
    expectRefused(await app.request(submit, { items }), 'items[1].toId', /^items\[1\]\.toId \(from variable \$items\) must not contain NUL/);
    expectRefused(await app.request('mutation { submitTransfers(items: [{ fromId: "1", toId: "2", amount: 1 }, { fromId: "\\u0000", toId: "2", amount: 1 }]) { id } }'), 'items[1].fromId', /NUL/);
    // A variable inside a list literal is named by its place in the list.
    expectRefused(await app.request('query ($id: ID!) { accounts(ids: ["1", $id]) { id } }', { id: '\udfff' }), 'ids[1]', /lone surrogate/);
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses a bad string in a subscription before it starts', async () => {
    const events = await subscribe(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', 'subscription ($id: ID!) { jobProgress(id: $id) { id } }', { id: '1\u0000' });
    const errors = events.flatMap((event) => event.data?.errors ?? []);
    expect(errors.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(errors[0]?.extensions?.argument).toBe('id');
  });

  it('refuses a string argument longer than MAX_STRING_LENGTH (1,000 characters by default) before anything runs', async () => {
    const before = await rowCounts();
    expect((await app.request('query ($name: String!) { hello(name: $name, delayMs: 0) }', { name: 'x'.repeat(1000) })).body.data?.hello).toBe(`Hello, ${'x'.repeat(1000)}`);
    // Characters are code points: 1,000 emoji (2,000 UTF-16 units) pass.
    expect((await app.request('query ($name: String!) { hello(name: $name, delayMs: 0) }', { name: '\ud83d\ude00'.repeat(1000) })).body.errors).toBeUndefined();
    expectRefused(await app.request('query ($name: String!) { hello(name: $name, delayMs: 0) }', { name: 'x'.repeat(1001) }), 'name', /^name \(from variable \$name\) must be at most 1000 characters long; got 1001\.$/);
    expectRefused(await app.request(`{ hello(name: "${'y'.repeat(5000)}", delayMs: 0) }`), 'name', /got 5000/);
    expectRefused(await app.request(increment, { name: 'z'.repeat(900_000) }), 'name', /got 900000/);
    expect((await app.request('{ hello(name: "x", delayMs: 0) }', undefined)).body.errors).toBeUndefined();
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses alike over real HTTP, on the fast path', async () => {
    const server = await serve(app);
    try {
      expectRefused(await graphqlRequest(fetch, `${server.url}/graphql`, increment, { name: 'a\ud800' }), 'name', /lone surrogate at index 1/);
    } finally {
      await server.shutdown(0);
    }
  });

  it('answers 200 with the same error to a client that accepts only application/json', async () => {
    const { status, body } = await app.request(increment, { name: '\u0000' }, { headers: { accept: 'application/json' } });
    expect(status).toBe(200);
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('MAX_STRING_LENGTH', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!, { config: { limits: { ...defaultLimits, maxStringLength: 5 } } });
  });
  afterAll(() => app.dispose());

  it('sets the longest string argument', async () => {
    expect((await app.request('{ hello(name: "abcde", delayMs: 0) }')).body.data?.hello).toBe('Hello, abcde');
    expectRefused(await app.request('{ hello(name: "abcdef", delayMs: 0) }'), 'name', /^name must be at most 5 characters long; got 6\.$/);
  });
});
