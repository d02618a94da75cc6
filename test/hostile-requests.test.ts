import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultHttp } from '../src/config.js';
import { databases } from './helpers/databases.js';
import { countdown } from './helpers/deferred.js';
import { graphqlRequest } from './helpers/graphql.js';
import { INTERNALS, sendRaw } from './helpers/raw-http.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';
import { createLogger } from '../src/observability/logger.js';
import { safeForFastPath } from '../src/http/fast-path-plugins.js';

// What a scanner or a hostile client sends: malformed request lines, headers and bodies. Each must
// get an HTTP answer below 500 that names the problem and holds nothing of the server's insides (no
// stack, no file path) and no copy of the request; and the server must serve the next client.

const hello = JSON.stringify({ query: '{ hello(delayMs: 0) }' });
const post = (body: string | Buffer, headers = '') =>
  Buffer.concat([Buffer.from(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${headers}\r\n`), Buffer.from(body)]);
const get = (target: string, headers = 'Host: x\r\n') => `GET ${target} HTTP/1.1\r\n${headers}Accept: application/json\r\nConnection: close\r\n\r\n`;
const garbage = 'x'.repeat(900_000);

type Case = { name: string; send: string | Buffer; status: number | ((status: number) => boolean) };

const cases: Case[] = [
  { name: 'a Host header with a space (Yoga path)', send: get('/graphql?query=%7Bhello%7D', 'Host: a b\r\n'), status: 400 },
  { name: 'a Host header with a space (fast path)', send: post(hello, 'Host: a b\r\n').toString().replace('Host: x\r\n', ''), status: 400 },
  { name: 'a Host header with a port out of range', send: get('/health', 'Host: x:99999\r\n'), status: 400 },
  { name: 'a Host header with forbidden characters', send: get('/graphql?query=%7Bhello%7D', 'Host: <x>|^\r\n'), status: 400 },
  { name: 'the asterisk form (OPTIONS *)', send: 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 400 },
  { name: 'the absolute form of a request target', send: get('http://elsewhere/graphql?query=%7Bhello%7D'), status: 400 },
  { name: 'bad percent-encoding in a GET query string', send: get('/graphql?query=%7Bhello%E0%A4%A%7D&variables=%zz'), status: (status) => status === 400 || status === 200 },
  { name: 'bad percent-encoding in the path', send: get('/gr%zzaphql%'), status: 404 },
  { name: 'variables that are not JSON, in a GET query string', send: get('/graphql?query=%7Bhello%7D&variables=%7B'), status: 400 },
  { name: 'a Content-Length that is not a number', send: 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}', status: 400 },
  { name: 'two different Content-Lengths', send: 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', status: 400 },
  { name: 'invalid chunked framing', send: 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', status: 400 },
  { name: 'a 900 KB body that is not JSON', send: post(`{"query": "${garbage}`), status: 400 },
  { name: 'a 900 KB body that is not JSON, through Yoga (chunked)', send: `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(garbage.length + 11).toString(16)}\r\n{"query": "${garbage}\r\n0\r\n\r\n`, status: 400 },
  { name: 'a body that is not UTF-8', send: post(Buffer.from([...Buffer.from('{"query":"{ hello(name: \\"'), 0xff, 0xfe, 0xc3, ...Buffer.from('\\", delayMs: 0) }"}')])), status: 200 },
  { name: 'a JSON body that is not an object', send: post('"' + 'y'.repeat(50_000) + '"'), status: 400 },
  { name: 'an unknown parameter with a long name', send: post(JSON.stringify({ query: '{ hello }', ['p'.repeat(100_000)]: 1 })), status: 400 },
  { name: 'a field name of 100,000 characters', send: post(JSON.stringify({ query: `{ ${'f'.repeat(100_000)} }` })), status: 200 },
  { name: 'a variable of the wrong type, 100,000 characters long', send: post(JSON.stringify({ query: 'query ($d: Int) { hello(delayMs: $d) }', variables: { d: 'd'.repeat(100_000) } })), status: 200 },
  { name: 'headers past 16 KB', send: `GET /graphql?query=%7Bhello%7D HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`, status: 431 },
  { name: 'a NUL byte in a header', send: 'GET /health HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n', status: 400 },
  { name: 'a method node does not know', send: 'BREW /graphql HTTP/1.1\r\nHost: x\r\n\r\n', status: 400 },
  { name: 'a method Yoga does not serve', send: 'PROPFIND /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 405 },
  { name: 'DELETE', send: 'DELETE /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 405 },
  { name: 'HTTP/1.0 without a Host header', send: `POST /graphql HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${hello.length}\r\n\r\n${hello}`, status: 200 },
  { name: 'HTTP/1.1 without a Host header', send: `POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${hello.length}\r\n\r\n${hello}`, status: 400 },
  { name: 'an HTTP version that does not exist', send: 'GET /health HTTP/7.3\r\nHost: x\r\n\r\n', status: (status) => status === 400 || status === 505 },
];

describe('hostile requests', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(databases[0]!);
  });
  afterAll(() => served.close());

  it.each(cases)('answers $name with a clear status, no internals and no copy of the request', async ({ send, status }) => {
    const { responses, raw } = await sendRaw(served.server.url, send);
    expect(responses.length, raw.slice(0, 300)).toBeGreaterThanOrEqual(1);
    const [response] = responses;
    if (typeof status === 'number') expect(response!.status, response!.body.slice(0, 300)).toBe(status);
    else expect(status(response!.status), `status ${response!.status}`).toBe(true);
    expect(raw).not.toMatch(INTERNALS);
    // A bounded answer: it quotes nothing long of what was sent.
    expect(raw.length).toBeLessThan(3_000);
    // And the next client is served.
    const next = await graphqlRequest(fetch, `${served.server.url}/graphql`, '{ hello(delayMs: 0) }');
    expect(next.body.data?.hello).toBe('Hello, World');
  });

  it('answers pipelined requests, each in order', async () => {
    const request = (name: string) => `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(JSON.stringify({ query: `{ hello(name: "${name}", delayMs: 0) }` }))}\r\n\r\n${JSON.stringify({ query: `{ hello(name: "${name}", delayMs: 0) }` })}`;
    const last = `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const { responses } = await sendRaw(served.server.url, request('one') + request('two') + request('three') + last);
    expect(responses.map((response) => [response.status, response.body])).toEqual([
      [200, '{"data":{"hello":"Hello, one"}}'],
      [200, '{"data":{"hello":"Hello, two"}}'],
      [200, '{"data":{"hello":"Hello, three"}}'],
      [200, ''],
    ]);
  });
});

describe('pipelining', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(databases[0]!, { config: { http: { ...defaultHttp, maxPipelinedRequests: 4 } } });
  });
  afterAll(() => served.close());
  const waits = (count: number) => {
    const body = JSON.stringify({ query: '{ hello(delayMs: 200) }' });
    return `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`.repeat(count);
  };

  it('answers a request and as many pipelined behind it as MAX_PIPELINED_REQUESTS allows', async () => {
    const { responses } = await sendRaw(served.server.url, waits(4) + 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('closes a connection that pipelines more requests than that, so that one connection cannot hold thousands of waits', async () => {
    const { responses, closed } = await sendRaw(served.server.url, waits(50));
    expect(closed).toBe(true);
    expect(responses).toEqual([]);
    const next = await graphqlRequest(fetch, `${served.server.url}/graphql`, '{ hello(delayMs: 0) }');
    expect(next.body.data?.hello).toBe('Hello, World');
  });
});

describe('the log, when clients leave', () => {
  it('says at most one short line for a request whose client went away, never a stack', async () => {
    const waiting = countdown(5);
    const done = countdown(5);
    const lines: string[] = [];
    const served = await serveTestApp(databases[0]!, {
      logger: createLogger({ level: 'info', destination: { write: (line) => void lines.push(line) } }),
      // An execution ends with a result, or (on graphql-js, which reads the signal) rejects with the
      // abort: count both.
      plugins: [
        safeForFastPath({
          onExecute: ({ executeFn, setExecuteFn }) => {
            waiting.tick();
            setExecuteFn((args) => Promise.resolve(executeFn(args)).finally(() => done.tick()));
          },
        }),
      ],
    });
    try {
      const clients = Array.from({ length: 5 }, () => new AbortController());
      const requests = clients.map((client) =>
        graphqlRequest(fetch, `${served.server.url}/graphql`, '{ hello(delayMs: 10000) }', undefined, { signal: client.signal }).catch(() => 'aborted'),
      );
      await waiting.promise;
      for (const client of clients) client.abort();
      expect(await Promise.all(requests)).toEqual(Array(5).fill('aborted'));
      // Each execution has ended: its timer was cancelled and its error handled (and logged, if it is).
      await done.promise;
    } finally {
      await served.close();
    }
    const output = lines.join('');
    expect(output).not.toMatch(/\s+at /);
    expect(lines.length).toBeLessThanOrEqual(5);
    // Each is the request's own line (its id, path, status, duration, and that the client left).
    for (const line of lines) expect(line.length).toBeLessThan(300);
  });
});
