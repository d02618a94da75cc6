import { request as httpRequest } from 'node:http';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultLimits } from '../src/config.js';
import type { RunningServer } from '../src/http-server.js';
import { databases } from './helpers/databases.js';
import { createTestApp, errorCodes, type GraphQLBody, type TestApp } from './helpers/graphql.js';
import { serve } from './helpers/server.js';

const ids = (count: number) => Array.from({ length: count }, (_, index) => String(index + 1));

/** account → transfers → from → transfers → from … with `levels` levels of fields under the leaf `id`. */
function queryOfDepth(depth: number): string {
  const fields = ['account(id: "1")'];
  while (fields.length < depth - 1) fields.push(fields.length % 2 ? 'transfers(last: 1)' : 'from');
  return `{ ${fields.map((field) => `${field} {`).join(' ')} id ${'}'.repeat(fields.length)} }`;
}

const expectRefused = (response: { status: number; body: GraphQLBody }, message: string) => {
  // The GraphQL-over-HTTP spec answers a document that fails validation with 400 and no data.
  expect(response.status).toBe(400);
  expect(response.body.data).toBeUndefined();
  expect(errorCodes(response.body)).toEqual(['QUERY_TOO_COMPLEX']);
  expect(response.body.errors?.[0]?.message).toBe(message);
};

describe('query limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!);
  });
  afterAll(() => app.dispose());
  beforeEach(() => app.resetStatements());

  it(`runs a query of depth ${defaultLimits.maxDepth} and refuses depth ${defaultLimits.maxDepth + 1}`, async () => {
    expect((await app.request(queryOfDepth(12))).body.errors).toBeUndefined();
    app.resetStatements();
    expectRefused(await app.request(queryOfDepth(13)), 'Query depth limit of 12 exceeded, found 13.');
    expect(app.statements).toHaveLength(0);
  });

  it('runs 100 aliases and refuses 101', async () => {
    const aliases = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: hello(delayMs: 0)`).join(' ')} }`;
    expect((await app.request(aliases(100))).body.errors).toBeUndefined();
    expectRefused(await app.request(aliases(101)), 'Aliases limit of 100 exceeded, found 101.');
  });

  it('runs 50 directives and refuses 51', async () => {
    const directives = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `h${i}: hello(delayMs: 0) @include(if: true)`).join(' ')} }`;
    expect((await app.request(directives(50))).body.errors).toBeUndefined();
    expectRefused(await app.request(directives(51)), 'Directives limit of 50 exceeded, found 51.');
  });

  it('runs 20,000 tokens, 1,000 ids written into the query included, and refuses 20,001', async () => {
    // 12 tokens around the list: { accounts ( ids : [ … ] ) { id } }
    const tokens = (count: number) => `{ accounts(ids: [${'"1" '.repeat(count - 12)}]) { id } }`;
    // Past the token limit, the ids' own limit speaks: the document was parsed.
    expect(errorCodes((await app.request(tokens(20_000))).body)).toEqual(['BAD_USER_INPUT']);
    expectRefused(await app.request(tokens(20_001)), 'Token limit of 20000 exceeded.');
    const inline = await app.request(`{ accounts(ids: ${JSON.stringify(ids(1000))}) { id } }`);
    expect(inline.body.data?.accounts).toHaveLength(1000);
  });

  it('lets 100 accounts with their transfers through the cost limit and refuses 1,000 with last: 100', async () => {
    const query = 'query ($ids: [ID!]!, $last: Int!) { accounts(ids: $ids) { transfers(last: $last) { from { name } to { name } } } }';
    expect((await app.request(query, { ids: ids(100), last: 10 })).body.errors).toBeUndefined();
    app.resetStatements();
    expectRefused(await app.request(query, { ids: ids(1000), last: 100 }), 'Query cost limit of 50000 exceeded, found 301000.');
    expect(app.statements).toHaveLength(0);
    // The same limit reads literals.
    const inline = `{ accounts(ids: ${JSON.stringify(ids(1000))}) { transfers(last: 100) { from { name } to { name } } } }`;
    expectRefused(await app.request(inline), 'Query cost limit of 50000 exceeded, found 301000.');
  });

  it('judges every request by its own variables: a refused one does not refuse the next', async () => {
    // The same text as a request just refused: a validation cache must not hand back that refusal.
    const query = 'query Judged($ids: [ID!]!) { accounts(ids: $ids) { transfers(last: 100) { from { name } } } }';
    expectRefused(await app.request(query, { ids: ids(1000) }), 'Query cost limit of 50000 exceeded, found 201000.');
    const small = await app.request(query, { ids: ids(2) });
    expect(small.body.errors).toBeUndefined();
    expect(small.body.data?.accounts).toHaveLength(2);
  });

  it('exempts introspection, so GraphiQL and code generators keep working', async () => {
    const { status, body } = await app.request(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.__schema.queryType.name).toBe('Query');
  });

  it('answers 200 with the error when the client accepts only application/json, as the spec says', async () => {
    const response = await app.request(queryOfDepth(13), undefined, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(200);
    expect(errorCodes(response.body)).toEqual(['QUERY_TOO_COMPLEX']);
  });
});

describe('configured limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!, { config: { limits: { ...defaultLimits, maxDepth: 4, maxCost: 3_100, maxAliases: 1 } } });
  });
  afterAll(() => app.dispose());

  it('applies each limit from the configuration', async () => {
    expectRefused(await app.request(queryOfDepth(5)), 'Query depth limit of 4 exceeded, found 5.');
    expectRefused(await app.request('{ a: hello(delayMs: 0) b: hello(delayMs: 0) }'), 'Aliases limit of 1 exceeded, found 2.');
    // accounts(100) { transfers(10) { from to } } costs exactly 3,100: one more id is 31 more.
    const query = 'query ($ids: [ID!]!) { accounts(ids: $ids) { transfers(last: 10) { from { name } to { name } } } }';
    expect((await app.request(query, { ids: ids(100) })).body.errors).toBeUndefined();
    expectRefused(await app.request(query, { ids: ids(101) }), 'Query cost limit of 3100 exceeded, found 3131.');
  });
});

describe('request body limit', () => {
  let app: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    // The bodies here carry one long name; MAX_STRING_LENGTH (test/text-arguments.test.ts) must not refuse it first.
    app = await createTestApp(databases[0]!, { config: { maxBodyBytes: 10_000, limits: { ...defaultLimits, maxStringLength: 20_000 } } });
    server = await serve(app);
  });
  afterAll(async () => {
    await server.shutdown(0);
    await app.dispose();
  });

  it('answers 413 to a body larger than MAX_BODY_BYTES', async () => {
    const response = await app.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ hello(name: "${'x'.repeat(20_000)}", delayMs: 0) }` }),
    });
    expect(response.status).toBe(413);
  });

  /** POSTs a chunked body (no Content-Length): `{ hello(name: "xxx…") }` with `nameBytes` x's. */
  const postChunked = (nameBytes: number) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      request.write(`{"query":"{ hello(delayMs: 0, name: \\"`);
      for (let sent = 0; sent < nameBytes; sent += 1_000) request.write('x'.repeat(Math.min(1_000, nameBytes - sent)));
      request.end(`\\") }"}`);
    });

  it('answers 413 to an oversized chunked body, without a Content-Length to go by', async () => {
    expect((await postChunked(20_000)).status).toBe(413);
  });

  it('serves a chunked body within the limit', async () => {
    const { status, body } = await postChunked(5_000);
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ data: { hello: `Hello, ${'x'.repeat(5_000)}` } });
  });

  it('answers 400 to an invalid Content-Length', async () => {
    const response = await app.yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '12, 12' },
      body: JSON.stringify({ query: '{ hello(delayMs: 0) }' }),
    });
    expect(response.status).toBe(400);
  });
});
