import { request as httpRequest } from 'node:http';
import { Socket } from 'node:net';
import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlite } from './helpers/databases.js';
import { safeForFastPath } from '../src/http/fast-path-plugins.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';

// The HTTP fast path (src/http/request-listener.ts) must answer exactly as Yoga does. Two servers on
// two fresh databases (same seed), one with the fast path and one without, get the same corpus in
// the same order; status, the headers that matter and the body bytes must be equal. `fast` marks
// the requests the fast path must answer itself, so the corpus cannot pass by never taking it.

type RawRequest = { method?: string; path?: string; headers?: Record<string, string>; body?: string };
type Case = { name: string; fast: boolean; request: RawRequest };

const json = (body: unknown, headers: Record<string, string> = {}): RawRequest => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
const query = (text: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => json({ query: text, ...extra }, headers);
const deep = `{ accounts(ids: ["1"]) { transfers { from { transfers { from { transfers { from { transfers { from { transfers { from { name } } } } } } } } } } } }`;
const aliases = `{ ${Array.from({ length: 101 }, (_, index) => `a${index}: hello(delayMs: 0)`).join(' ')} }`;
// Past the servers' MAX_RESPONSE_BYTES (below): many objects, many aliased leaves.
const maxResponseBytes = 200_000;
const thousandIds = Array.from({ length: 1000 }, (_, index) => String(index + 1));
const amplified = `query ($ids: [ID!]!) { accounts(ids: $ids) { ${Array.from({ length: 99 }, (_, index) => `n${index}: name`).join(' ')} } }`;

const corpus: Case[] = [
  { name: 'hello, no Accept', fast: true, request: query('{ hello(delayMs: 0) }') },
  { name: 'Accept: application/json', fast: true, request: query('{ hello(delayMs: 0) }', {}, { accept: 'application/json' }) },
  { name: 'Accept: application/graphql-response+json', fast: true, request: query('{ hello(delayMs: 0) }', {}, { accept: 'application/graphql-response+json' }) },
  { name: 'Accept: both, with q', fast: true, request: query('{ hello(delayMs: 0) }', {}, { accept: 'application/graphql-response+json, application/json;q=0.9' }) },
  { name: 'Accept: json first, then the GraphQL type', fast: true, request: query('{ hello(delayMs: 0) }', {}, { accept: 'application/json, application/graphql-response+json' }) },
  { name: 'Accept: */*', fast: true, request: query('{ hello(delayMs: 0) }', {}, { accept: '*/*' }) },
  { name: 'Accept: application/*', fast: true, request: query('{ hello(delayMs: 0) }', {}, { accept: 'application/*' }) },
  { name: 'Accept with a charset Yoga refuses', fast: false, request: query('{ hello(delayMs: 0) }', {}, { accept: 'application/json; charset=latin1' }) },
  { name: 'Accept: text/html (406)', fast: false, request: query('{ hello(delayMs: 0) }', {}, { accept: 'text/html' }) },
  { name: 'Accept: text/event-stream', fast: false, request: query('{ hello(delayMs: 0) }', {}, { accept: 'text/event-stream' }) },
  { name: 'Content-Type with charset', fast: true, request: { body: '{"query":"{ hello(delayMs: 0) }"}', headers: { 'content-type': 'application/json; charset=utf-8' } } },
  { name: 'variables, operationName, extensions', fast: true, request: query('query Two($ids: [ID!]!) { accounts(ids: $ids) { id name balance } } query One { hello(delayMs: 0) }', { variables: { ids: ['2', '1', 'nope', '999999'] }, operationName: 'Two', extensions: { trace: true } }) },
  { name: 'null variables and operationName', fast: true, request: query('{ account(id: "3") { name } }', { variables: null, operationName: null }) },
  { name: 'a variable of the wrong type', fast: true, request: query('query ($id: ID!) { account(id: $id) { name } }', { variables: { id: { no: 1 } } }) },
  { name: 'a missing variable', fast: true, request: query('query ($id: ID!) { account(id: $id) { name } }') },
  { name: 'an unknown operationName', fast: true, request: query('query A { hello(delayMs: 0) }', { operationName: 'B' }) },
  { name: 'two operations and no operationName', fast: true, request: query('query A { hello(delayMs: 0) } query B { hello(delayMs: 0) }') },
  { name: 'a validation error (application/json: 200)', fast: true, request: query('{ nope }', {}, { accept: 'application/json' }) },
  { name: 'a validation error (graphql-response+json: 400)', fast: true, request: query('{ nope }', {}, { accept: 'application/graphql-response+json' }) },
  { name: 'a syntax error', fast: true, request: query('{ hello(') },
  { name: 'too deep', fast: true, request: query(deep) },
  { name: 'too many aliases', fast: true, request: query(aliases) },
  { name: 'too many tokens', fast: true, request: query(`{ ${'__typename '.repeat(20_001)}}`) },
  { name: 'too costly', fast: true, request: query('query ($ids: [ID!]!) { accounts(ids: $ids) { transfers(last: 100) { from { name } } } }', { variables: { ids: Array.from({ length: 1000 }, (_, index) => String(index + 1)) } }) },
  { name: 'a plugin that throws before execution', fast: true, request: query('{ hello(delayMs: 0) } # throw') },
  { name: 'a bad argument', fast: true, request: query('{ hello(delayMs: -1) }') },
  { name: 'a mutation', fast: true, request: query('mutation { increment(name: "compare", by: 2) { name value } }') },
  { name: 'the same mutation again', fast: true, request: query('mutation { increment(name: "compare", by: 2) { name value } }') },
  { name: 'a refused transfer', fast: true, request: query('mutation { transfer(fromId: "1", toId: "2", amount: 1000000) { id } }') },
  { name: 'a transfer of an unknown account', fast: true, request: query('mutation { transfer(fromId: "1", toId: "999999", amount: 1) { id } }') },
  { name: 'introspection', fast: true, request: query('{ __schema { queryType { name } mutationType { name } } __type(name: "Account") { fields { name } } }') },
  { name: 'a subscription sent as a plain POST', fast: false, request: query('subscription { jobProgress(id: "1") { status } }', {}, { accept: 'application/json' }) },
  { name: 'invalid JSON', fast: false, request: { body: '{"query":', headers: { 'content-type': 'application/json' } } },
  { name: 'an empty body', fast: false, request: { body: '', headers: { 'content-type': 'application/json' } } },
  { name: 'a batch (array body)', fast: false, request: json([{ query: '{ hello(delayMs: 0) }' }]) },
  { name: 'a null body', fast: false, request: json(null) },
  { name: 'a string body', fast: false, request: json('{ hello }') },
  { name: 'no query', fast: false, request: json({ variables: {} }) },
  { name: 'a query that is not a string', fast: false, request: json({ query: 1 }) },
  { name: 'variables that are a string', fast: false, request: json({ query: '{ hello(delayMs: 0) }', variables: '{}' }) },
  { name: 'an unknown parameter', fast: false, request: json({ query: '{ hello(delayMs: 0) }', foo: 1 }) },
  { name: 'a body past MAX_BODY_BYTES', fast: false, request: query(`{ hello(name: "${'x'.repeat(1_000_001)}", delayMs: 0) }`) },
  // A browser's: CORS is applied in front of both paths, so it takes the fast path like any other.
  { name: 'an Origin header (CORS)', fast: true, request: query('{ hello(delayMs: 0) }', {}, { origin: 'https://app.example' }) },
  { name: 'a query string on the path', fast: false, request: { ...query('{ hello(delayMs: 0) }'), path: '/graphql?x=1' } },
  // Refused in front of both paths (CSRF: src/http/csrf.ts), with the same 415.
  { name: 'text/plain', fast: false, request: { body: '{"query":"{ hello(delayMs: 0) }"}', headers: { 'content-type': 'text/plain' } } },
  { name: 'application/graphql', fast: false, request: { body: '{ hello(delayMs: 0) }', headers: { 'content-type': 'application/graphql' } } },
  { name: 'GET with a query', fast: false, request: { method: 'GET', path: '/graphql?query=%7B%20hello(delayMs%3A%200)%20%7D' } },
  { name: 'a mutation over GET (405)', fast: false, request: { method: 'GET', path: '/graphql?query=mutation%20%7B%20increment(name%3A%20%22g%22)%20%7B%20value%20%7D%20%7D' } },
  { name: 'PUT', fast: false, request: { ...query('{ hello(delayMs: 0) }'), method: 'PUT' } },
  { name: 'another path', fast: false, request: { ...query('{ hello(delayMs: 0) }'), path: '/other' } },
  { name: 'a response past MAX_RESPONSE_BYTES', fast: true, request: query(amplified, { variables: { ids: thousandIds } }) },
  { name: 'a response past MAX_RESPONSE_BYTES, graphql-response+json', fast: true, request: query(amplified, { variables: { ids: thousandIds } }, { accept: 'application/graphql-response+json' }) },
  { name: 'a response within MAX_RESPONSE_BYTES', fast: true, request: query('query ($ids: [ID!]!) { accounts(ids: $ids) { id name balance } }', { variables: { ids: thousandIds } }) },
  { name: 'a field name of 5,000 characters (its message is cut)', fast: true, request: query(`{ ${'f'.repeat(5_000)} }`) },
  { name: 'a variable of the wrong type, 5,000 characters long (its message is cut)', fast: true, request: query('query ($d: Int) { hello(delayMs: $d) }', { variables: { d: 'd'.repeat(5_000) } }) },
  { name: 'a body past 16 KiB (counted in MAX_BODY_BYTES_IN_FLIGHT)', fast: true, request: query(`{ hello(delayMs: 0) } # ${'c'.repeat(20_000)}`) },
  { name: 'a Host header that makes no URL', fast: false, request: query('{ hello(delayMs: 0) }', {}, { host: 'a b' }) },
  { name: 'a 500 kB body that is not JSON', fast: false, request: { body: `{"query": "${'j'.repeat(500_000)}`, headers: { 'content-type': 'application/json' } } },
  { name: 'GET with variables that are not JSON', fast: false, request: { method: 'GET', path: '/graphql?query=%7B%20hello(delayMs%3A%200)%20%7D&variables=%7B' } },
];

/** Headers whose value must match; Date and the connection's own differ by nature. */
// x-request-id: a new UUID for every request, on either path (observed-listener.ts).
const IGNORED_HEADERS = new Set(['date', 'connection', 'keep-alive', 'x-request-id']);

type RawResponse = { status: number; headers: Record<string, string>; body: string };

/** Sends exactly these headers (node:http adds Host and, for a body, Content-Length). */
function send(baseUrl: string, { method = 'POST', path = '/graphql', headers = {}, body }: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${baseUrl}${path}`, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const kept: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) if (!IGNORED_HEADERS.has(name)) kept[name] = String(value);
        resolve({ status: response.statusCode!, headers: kept, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * Throws where Yoga's pipeline can throw outside execution, for a query that asks for it: in an
 * onParams hook, before anything runs, and in an onExecutionResult hook, after the operation has run
 * (once per server, as a plugin that fails now and then would).
 */
function throwingPlugin(): Plugin {
  let thrownAfterExecution = false;
  // Its hooks are ones the fast path runs: marked safe, it keeps the fast path on.
  return safeForFastPath({
    onParams({ params }) {
      if (params.query?.includes('# throw')) throw new Error('a plugin failed');
    },
    onExecutionResult({ request }) {
      if (thrownAfterExecution || request.headers.get('x-throw-after-execution') === null) return;
      thrownAfterExecution = true;
      throw new Error('a plugin failed after execution');
    },
  });
}

describe('the HTTP fast path', () => {
  let fast: ServedTestApp;
  let yoga: ServedTestApp;
  beforeAll(async () => {
    [fast, yoga] = await Promise.all([
      serveTestApp(sqlite, { config: { httpFastPath: true, maxResponseBytes }, plugins: [throwingPlugin()] }),
      serveTestApp(sqlite, { config: { httpFastPath: false, maxResponseBytes }, plugins: [throwingPlugin()] }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([fast?.close(), yoga?.close()]);
  });

  it('answers every request of the corpus byte for byte as Yoga does, and answers the common ones itself', async () => {
    const differences: string[] = [];
    for (const { name, fast: expectFast, request } of corpus) {
      const before = fast.app.requestListener.fastPathAnswers;
      const viaFastPath = await send(fast.server.url, request);
      const tookFastPath = fast.app.requestListener.fastPathAnswers > before;
      const viaYoga = await send(yoga.server.url, request);
      if (JSON.stringify(viaFastPath) !== JSON.stringify(viaYoga)) {
        differences.push(`${name}:\n  fast path: ${JSON.stringify(viaFastPath).slice(0, 400)}\n  Yoga:      ${JSON.stringify(viaYoga).slice(0, 400)}`);
      }
      if (tookFastPath !== expectFast) differences.push(`${name}: expected the fast path ${expectFast ? '' : 'not '}to answer it`);
    }
    expect(yoga.app.requestListener.fastPathAnswers).toBe(0);
    expect(differences.join('\n')).toBe('');
  });

  it('never runs a mutation twice: a plugin that throws after execution gets one masked answer, as from Yoga', async () => {
    const counter = async (url: string) => JSON.parse((await send(url, query('{ counter(name: "late-throw") { value } }'))).body).data.counter.value;
    const increment = query('mutation { increment(name: "late-throw", by: 1) { value } }', {}, { 'x-throw-after-execution': '1' });
    const before = fast.app.requestListener.fastPathAnswers;
    const [viaFastPath, viaYoga] = [await send(fast.server.url, increment), await send(yoga.server.url, increment)];
    expect(fast.app.requestListener.fastPathAnswers).toBe(before + 1);
    // The operation ran once on each server: the throw came after it, and nothing ran it again.
    expect([await counter(fast.server.url), await counter(yoga.server.url)]).toEqual([1, 1]);
    expect(viaFastPath).toEqual(viaYoga);
    expect(viaFastPath).toMatchObject({ status: 500, body: '{"errors":[{"message":"Unexpected error.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}' });
  });

  it('survives a client that leaves halfway through its body, and serves the next request', async () => {
    const url = new URL(fast.server.url);
    const socket = new Socket();
    await new Promise<void>((resolve) => socket.connect(Number(url.port), url.hostname, resolve));
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":"{ hel');
    socket.destroy();
    const after = await send(fast.server.url, query('{ hello(delayMs: 0) }'));
    expect(after).toMatchObject({ status: 200, body: '{"data":{"hello":"Hello, World"}}' });
  });
});
