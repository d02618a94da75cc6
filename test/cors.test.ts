import { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultHttp } from '../src/config.js';
import { SMALL_BODY_BYTES } from '../src/http/body-budget.js';
import { PREFLIGHT_MAX_AGE_SECONDS } from '../src/http/cors.js';
import { safeForFastPath } from '../src/http/fast-path-plugins.js';
import { schema } from '../src/graphql/schema/index.js';
import { sqlite } from './helpers/databases.js';
import { graphqlRequest } from './helpers/graphql.js';
import { sendRaw } from './helpers/raw-http.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';

const app = 'http://app.example';
const admin = 'https://admin.example:8443';
const evil = 'http://evil.example';

// What a browser sends with a GraphQL POST from a page of another origin.
const browserHeaders = (origin: string) => ({
  origin,
  cookie: 'session=abc; theme=dark',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  accept: 'application/graphql-response+json, application/json;q=0.9',
  referer: `${origin}/dashboard`,
  'sec-fetch-mode': 'cors',
  'sec-fetch-site': 'cross-site',
});

const preflight = (origin: string) => ({
  origin,
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'content-type,authorization',
});

const corsHeaders = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary'));

// Yoga's own CORS, configured with the same policy: what the server's answers must match.
const yogaWithSamePolicy = createYoga({
  schema,
  logging: false,
  cors: { origin: [app, admin], credentials: true, exposedHeaders: ['x-request-id'], maxAge: PREFLIGHT_MAX_AGE_SECONDS },
});

describe('CORS with CORS_ORIGINS set', () => {
  let served: ServedTestApp;
  let executions = 0;
  beforeAll(async () => {
    served = await serveTestApp(sqlite, {
      config: { http: { ...defaultHttp, corsOrigins: [app, admin] } },
      plugins: [safeForFastPath({ onExecute: () => void (executions += 1) })],
    });
  });
  afterAll(() => served.close());
  const url = () => `${served.server.url}/graphql`;

  it("answers a listed origin's preflight itself, with Yoga's headers for the same policy, and runs nothing", async () => {
    const before = executions;
    const ours = await fetch(url(), { method: 'OPTIONS', headers: preflight(app) });
    const yogas = await yogaWithSamePolicy.fetch('http://yoga/graphql', { method: 'OPTIONS', headers: preflight(app) });
    expect(ours.status).toBe(204);
    expect(ours.headers.get('access-control-allow-origin')).toBe(app);
    expect(ours.headers.get('access-control-allow-credentials')).toBe('true');
    expect(corsHeaders(ours)).toEqual(corsHeaders(yogas));
    expect(executions).toBe(before);
  });

  it('serves a browser-shaped POST from a listed origin on the fast path, with the same CORS headers as Yoga', async () => {
    const fastBefore = served.app.requestListener.fastPathAnswers;
    const response = await fetch(url(), {
      method: 'POST',
      headers: { ...browserHeaders(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello(delayMs: 0) }' }),
    });
    expect(await response.json()).toEqual({ data: { hello: 'Hello, World' } });
    expect(served.app.requestListener.fastPathAnswers).toBe(fastBefore + 1);
    const yogas = await yogaWithSamePolicy.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { ...browserHeaders(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(corsHeaders(response)).toEqual(corsHeaders(yogas));
  });

  it('never reflects an origin that is not listed, nor allows it credentials, and says the answer varies by Origin', async () => {
    const refusedPreflight = await fetch(url(), { method: 'OPTIONS', headers: preflight(evil) });
    const post = await fetch(url(), {
      method: 'POST',
      headers: { ...browserHeaders(evil), 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello(delayMs: 0) }' }),
    });
    for (const response of [refusedPreflight, post]) {
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      expect(response.headers.get('vary')).toBe('Origin');
    }
  });
});

describe('CORS by default (no CORS_ORIGINS)', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(sqlite);
  });
  afterAll(() => served.close());

  it('allows no cross-origin page, and still serves same-origin pages and clients that are not browsers', async () => {
    const url = `${served.server.url}/graphql`;
    const refused = await fetch(url, { method: 'OPTIONS', headers: preflight(app) });
    expect(refused.status).toBe(204);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    // A same-origin page sends its own origin with a POST; the browser needs no CORS header to read the answer.
    const sameOrigin = await fetch(url, {
      method: 'POST',
      headers: { ...browserHeaders(served.server.url), 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello(delayMs: 0) }' }),
    });
    expect(await sameOrigin.json()).toEqual({ data: { hello: 'Hello, World' } });
    expect((await graphqlRequest(fetch, url, '{ hello(delayMs: 0) }')).body).toEqual({ data: { hello: 'Hello, World' } });
  });
});

describe('cross-site request forgery', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(sqlite, { config: { http: { ...defaultHttp, corsOrigins: [app] } } });
  });
  afterAll(() => served.close());

  it.each([
    ['application/x-www-form-urlencoded', `query=${encodeURIComponent('mutation { increment(name: "csrf") { value } }')}`],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\nmutation { increment(name: "csrf") { value } }\r\n--x--\r\n'],
    ['text/plain', JSON.stringify({ query: 'mutation { increment(name: "csrf") { value } }' })],
    ['text/plain;charset=UTF-8', JSON.stringify({ query: 'mutation { increment(name: "csrf") { value } }' })],
  ])('refuses a %s POST, which any page could send without a preflight, and changes nothing', async (type, body) => {
    const response = await fetch(`${served.server.url}/graphql`, { method: 'POST', headers: { 'content-type': type, origin: evil }, body });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
    const counter = await served.app.request('{ counter(name: "csrf") { value } }');
    expect(counter.body.data?.counter.value).toBe(0);
  });
});

describe('the request id and CORS headers on every answer', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(sqlite, {
      // A budget smaller than one large body, so that the refusal of one (503) is among the answers below.
      config: { http: { ...defaultHttp, corsOrigins: [app], maxBodyBytesInFlight: SMALL_BODY_BYTES } },
      // A result whose HTTP status node refuses to write: the fast path's writeHead throws, and a 500 is sent instead.
      plugins: [
        safeForFastPath({
          onExecute: ({ args, setResultAndStopExecution }) => {
            if (args.operationName === 'UnwritableStatus') setResultAndStopExecution({ errors: [new GraphQLError('unwritable', { extensions: { http: { status: 1000 } } })] });
          },
        }),
      ],
    });
  });
  afterAll(() => served.close());

  const request = (head: string, body = '') => `${head}\r\nHost: localhost\r\nOrigin: ${app}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const json = (body: string, accept = 'application/json') => request(`POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nAccept: ${accept}`, body);
  const hello = JSON.stringify({ query: '{ hello(delayMs: 0) }' });

  // One request for each way an answer is written: the fast path's writeHead, Yoga's adapter, and
  // each refusal of the listeners in front of them. The id and the CORS headers are kept until the
  // answer is written (src/http/answer-headers.ts), so a path that forgot them would send none.
  it.each([
    ['the fast path', json(hello), 200],
    ['Yoga, handed a body already read (not plain parameters)', json(JSON.stringify({ query: '{ hello(delayMs: 0) }', other: 1 })), 400],
    ['Yoga, for an Accept the fast path does not serve', json(hello, 'application/xml'), 406],
    ['Yoga, for a GET', request('GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nAccept: application/json'), 200],
    ['Yoga, for another path', request('GET /health HTTP/1.1'), 200],
    ['/metrics', request('GET /metrics HTTP/1.1'), 200],
    ['a preflight', request('OPTIONS /graphql HTTP/1.1\r\nAccess-Control-Request-Method: POST'), 204],
    ['a refused form POST', request('POST /graphql HTTP/1.1\r\nContent-Type: text/plain', hello), 415],
    ['a refused Host', request('POST /graphql HTTP/1.1\r\nContent-Type: application/json', hello).replace('Host: localhost', 'Host: bad host'), 400],
    ['the fast path, when its writeHead throws', json(JSON.stringify({ query: 'query UnwritableStatus { __typename }', operationName: 'UnwritableStatus' })), 500],
    ['a body refused for the budget', request('POST /graphql HTTP/1.1\r\nContent-Type: application/json', ' '.repeat(SMALL_BODY_BYTES + 1)), 503],
  ])('%s', async (_path, raw, status) => {
    const { responses, raw: answer } = await sendRaw(served.server.url, raw);
    expect(responses[0]?.status).toBe(status);
    expect(responses[0]!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(responses[0]!.headers['access-control-allow-origin']).toBe(app);
    expect(responses[0]!.headers['access-control-expose-headers']).toBe('x-request-id');
    // Each header once: none set twice by two paths.
    expect(answer.match(/\r\nx-request-id:/gi)).toHaveLength(1);
    expect(answer.match(/\r\naccess-control-allow-origin:/gi)).toHaveLength(1);
  });

  it('a request target that is not a path: refused with its id, and no CORS header (no page sends one)', async () => {
    const { responses } = await sendRaw(served.server.url, `OPTIONS * HTTP/1.1\r\nHost: localhost\r\nOrigin: ${app}\r\nConnection: close\r\n\r\n`);
    expect(responses[0]?.status).toBe(400);
    expect(responses[0]!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(responses[0]!.headers['access-control-allow-origin']).toBeUndefined();
  });
});
