import { request as httpRequest } from 'node:http';
import { GraphQLID, GraphQLInt, GraphQLList, GraphQLObjectType, GraphQLSchema, type GraphQLFieldConfig } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, defaultLimits, loadConfig } from '../src/config.js';
import { assertListSizesDeclared } from '../src/graphql/limits/cost-limit.js';
import { schema } from '../src/graphql/schema/index.js';
import { sizedBy } from '../src/graphql/schema/list-size.js';
import type { RunningServer } from '../src/http/server.js';
import { databases } from './helpers/databases.js';
import { repeat } from './helpers/documents.js';
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

  it('refuses a field repeated thousands of times before graphql-js compares every pair, and lets through what people write', async () => {
    // 2,000 × 2,000 / 2 pairs: graphql-js's validation gave up after 0.5 to 1.5 s ("Validation aborted.").
    const started = performance.now();
    expectRefused(await app.request(`{ ${repeat(2_000, 'account(id: "1") { id }')} }`), 'Field merging limit of 20000 exceeded.');
    expect(performance.now() - started).toBeLessThan(1_000);
    // What people write passes: 100 aliases, 40 fragments on one object, 1,000 ids.
    const aliases = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: account(id: "${i + 1}") { id name transfers(last: 1) { from { name } } }`).join(' ')} }`;
    expect((await app.request(aliases)).body.errors).toBeUndefined();
    const names = Array.from({ length: 40 }, (_, i) => `A${i}`);
    const fragments = `{ account(id: "1") { ${names.map((name) => `...${name}`).join(' ')} } } ${names.map((name) => `fragment ${name} on Account { id name transfers(last: 1) { id from { id name } } }`).join(' ')}`;
    expect((await app.request(fragments)).body.data?.account.id).toBe('1');
    expect((await app.request(`{ accounts(ids: ${JSON.stringify(ids(1000))}) { id } }`)).body.data?.accounts).toHaveLength(1000);
  });

  it('refuses a document nested deeper than 64 brackets while parsing it, not with an internal error', async () => {
    // 3,000 levels overflowed the stack of graphql-js's recursive parser: a 500.
    expectRefused(await app.request(`{ account(id: "1") { ${repeat(3_000, 'from {')} id ${repeat(3_000, '}')} } }`), 'Nesting limit of 64 exceeded.');
    // Lists in arguments nest too.
    expectRefused(await app.request(`{ accounts(ids: ${repeat(65, '[')}"1"${repeat(65, ']')}) { id } }`), 'Nesting limit of 64 exceeded.');
    // Introspection, exempt from the depth limit, may nest up to it.
    const deepIntrospection = await app.request(`{ __schema { types { ${repeat(60, 'ofType {')} name ${repeat(60, '}')} } } }`);
    expect(deepIntrospection.body.data?.__schema.types.length).toBeGreaterThan(10);
  });

  it('counts comments against the token limit: a document of 20,001 comments is refused', async () => {
    // graphql-js lexes comments but does not count them as tokens: 450,000 took 0.3 to 0.5 s to parse.
    expect((await app.request(`{ hello(delayMs: 0) } ${'#\n'.repeat(20_000)}`)).body.data?.hello).toBe('Hello, World');
    expectRefused(await app.request(`{ hello(delayMs: 0) } ${'#\n'.repeat(20_001)}`), 'Comment limit of 20000 exceeded.');
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
    app = await createTestApp(databases[0]!, { config: { limits: { ...defaultLimits, maxDepth: 4, maxCost: 3_100, maxAliases: 1, maxFieldMerges: 10, maxIntrospectionCost: 2, maxNesting: 5 } } });
  });
  afterAll(() => app.dispose());

  it('applies each limit from the configuration', async () => {
    expectRefused(await app.request(queryOfDepth(5)), 'Query depth limit of 4 exceeded, found 5.');
    expectRefused(await app.request('{ a: hello(delayMs: 0) b: hello(delayMs: 0) }'), 'Aliases limit of 1 exceeded, found 2.');
    // accounts(100) { transfers(10) { from to } } costs exactly 3,100: one more id is 31 more.
    const query = 'query ($ids: [ID!]!) { accounts(ids: $ids) { transfers(last: 10) { from { name } to { name } } } }';
    expect((await app.request(query, { ids: ids(100) })).body.errors).toBeUndefined();
    expectRefused(await app.request(query, { ids: ids(101) }), 'Query cost limit of 3100 exceeded, found 3131.');
    // { accounts ( [ ] ) { transfers ( ) { from { … } } } }: 4 brackets open at most; 6 below.
    expect((await app.request('{ accounts(ids: ["1"]) { transfers(last: 1) { from { name } } } }')).body.errors).toBeUndefined();
    expectRefused(await app.request('{ accounts(ids: [[[["1"]]]]) { id } }'), 'Nesting limit of 5 exceeded.');
    // Four fields of one name: 4 merged, 1 + 2 + 3 pairs compared, 10 in all; a fifth is 5 more.
    expect((await app.request(`{ ${repeat(4, 'hello(delayMs: 0)')} }`)).body.data?.hello).toBe('Hello, World');
    expectRefused(await app.request(`{ ${repeat(5, 'hello(delayMs: 0)')} }`), 'Field merging limit of 10 exceeded.');
    // __schema, queryType and mutationType: 3 objects.
    expect((await app.request('{ __schema { queryType { name } } }')).body.data?.__schema.queryType.name).toBe('Query');
    expectRefused(await app.request('{ __schema { queryType { name } mutationType { name } } }'), 'Introspection cost limit of 2 exceeded, found 3.');
  });

  it('reads the limits of documents from the environment, and refuses values it cannot use', () => {
    const env = { MAX_NESTING: '20', MAX_FIELD_MERGES: '100', MAX_INTROSPECTION_COST: '200', INTROSPECTION: 'false', PARSE_CACHE_MAX_BYTES: '5000000', JIT_AFTER_RUNS: '0', JIT_MAX_FIELDS: '50' };
    const config = loadConfig(env);
    expect(config.limits).toMatchObject({ maxNesting: 20, maxFieldMerges: 100, maxIntrospectionCost: 200, introspection: false });
    expect(config.documents).toEqual({ parseCacheMaxBytes: 5_000_000, jitAfterRuns: 0, jitMaxFields: 50 });
    expect(loadConfig({}).limits).toMatchObject({ maxNesting: 64, maxFieldMerges: 20_000, maxIntrospectionCost: 1_500, introspection: true });
    expect(() => loadConfig({ PARSE_CACHE_MAX_BYTES: '1000' })).toThrow(new ConfigError('PARSE_CACHE_MAX_BYTES must be a whole number from 1000000 to 100000000000; got "1000".'));
    expect(() => loadConfig({ INTROSPECTION: 'off' })).toThrow(new ConfigError('INTROSPECTION must be true or false; got "off".'));
    expect(() => loadConfig({ MAX_FIELD_MERGES: '0' })).toThrow(ConfigError);
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

describe('the sizes of lists, declared on their fields', () => {
  it('are declared by every field of the schema that returns a list of objects', () => {
    expect(() => assertListSizesDeclared(schema)).not.toThrow();
  });

  it('refuse a schema with a list of objects that declares no size, or names an argument it does not have', () => {
    const item = new GraphQLObjectType({ name: 'Item', fields: { id: { type: GraphQLID } } });
    const withList = (field: GraphQLFieldConfig<unknown, unknown>) => new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { items: field } }) });
    const args = { first: { type: GraphQLInt } };
    expect(() => assertListSizesDeclared(withList({ type: new GraphQLList(item), args }))).toThrow('Query.items returns a list of objects but declares no size');
    // The argument renamed, the declaration not: the cost would count one object.
    expect(() => assertListSizesDeclared(withList({ type: new GraphQLList(item), args, extensions: sizedBy('last') }))).toThrow('Query.items declares its size by the argument "last", which it does not have');
    expect(() => assertListSizesDeclared(withList({ type: new GraphQLList(item), args, extensions: sizedBy('first') }))).not.toThrow();
  });
});
