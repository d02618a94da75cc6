import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastHeadersIncomingMessage, isLearned, learnedNameCount, MAX_NAMES } from '../src/http/incoming-headers.js';

// Two servers, one with node's IncomingMessage and one with ours, each answering with what its
// handler sees of req.headers; the same bytes are sent to both over a socket.

/** What a handler sees of `req.headers`: its prototype, and its entries in their order. */
const seen = (req: IncomingMessage) => JSON.stringify([Object.getPrototypeOf(req.headers) === Object.prototype, Object.entries(req.headers)]);

/** At /set/VALUE, what it sees after setting req.headers to null, '' or an object of its own. */
const answer = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
  const set = /^\/set\/(.*)$/.exec(req.url ?? '')?.[1];
  if (set !== undefined) (req as { headers: unknown }).headers = set === 'null' ? null : set === 'empty' ? '' : { set };
  res.end(seen(req));
};

let ours: Server;
let nodes: Server;
beforeAll(async () => {
  ours = createServer({ IncomingMessage: FastHeadersIncomingMessage }, answer);
  nodes = createServer(answer);
  await Promise.all([ours, nodes].map((server) => once(server.listen(0, '127.0.0.1'), 'listening')));
});
afterAll(async () => {
  await Promise.all([ours, nodes].map((server) => new Promise((resolve) => server.close(resolve))));
});

/** Sends a GET with these header lines as they are (names as written, repeats kept), and returns the body. */
async function headersOf(server: Server, lines: readonly (readonly [string, string])[], path = '/'): Promise<string> {
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.end(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.map(([name, value]) => `${name}: ${value}\r\n`).join('')}Connection: close\r\n\r\n`);
  let answer = '';
  for await (const chunk of socket) answer += String(chunk);
  return answer.slice(answer.indexOf('\r\n\r\n') + 4);
}

const expectSameAsNode = async (lines: readonly (readonly [string, string])[], path?: string) => {
  const [theirs, mine] = [await headersOf(nodes, lines, path), await headersOf(ours, lines, path)];
  expect(theirs).not.toBe('');
  expect(mine).toBe(theirs);
};

const BROWSER: [string, string][] = [
  ['Origin', 'http://app.example'],
  ['Cookie', 'session=1'],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0'],
  ['Accept', 'application/graphql-response+json,application/json;q=0.9'],
  ['Accept-Language', 'en-US,en;q=0.9'],
  ['Accept-Encoding', 'gzip, deflate, br, zstd'],
  ['sec-ch-ua', '"Chromium";v="131"'],
  ['sec-fetch-mode', 'cors'],
  ['Content-Type', 'application/json'],
];

describe("a request's headers object", () => {
  it("is node's, entry for entry and in the same order, for a browser's request sent again and again", async () => {
    for (let round = 0; round < 3; round++) await expectSameAsNode(BROWSER);
  });

  it("merges repeated lines as node does: joined with ', ' or '; ', kept in a list, or the first kept", async () => {
    await expectSameAsNode([
      ['Cookie', 'a=1'],
      ['cookie', 'b=2'],
      ['Set-Cookie', 'x=1'],
      ['set-cookie', 'y=2'],
      ['X-Custom', 'one'],
      ['x-CUSTOM', 'two'],
      ['Accept', 'text/html'],
      ['ACCEPT', 'application/json'],
      ['Content-Type', 'application/json'],
      ['content-type', 'text/plain'],
      ['Authorization', 'Bearer one'],
      ['authorization', 'Bearer two'],
      ['Host', 'second.example'],
    ]);
  });

  it('takes names that an object already has (its prototype\'s), long names and many lines as node does', async () => {
    await expectSameAsNode([
      ['__proto__', 'polluted'],
      ['constructor', 'one'],
      ['Constructor', 'two'],
      ['toString', 'x'],
      ['hasOwnProperty', 'y'],
      ['x-'.padEnd(300, 'n'), 'long'],
      ['X-'.padEnd(300, 'n'), 'long again'],
    ]);
    await expectSameAsNode(Array.from({ length: 100 }, (_, index) => [`X-Line-${index % 37}`, String(index)] as const));
  });

  it("is node's for random mixes of names, cases, repeats and orders", async () => {
    const names = ['Host', 'Cookie', 'Set-Cookie', 'Accept', 'Content-Type', 'Content-Length', 'Authorization', 'X-Request-Id', 'Origin', 'Referer', 'If-None-Match', 'Forwarded', 'X-Forwarded-For', 'Age', 'From', 'Expect-CT'];
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    for (let request = 0; request < 60; request++) {
      const lines = Array.from({ length: 1 + random(20) }, () => {
        const name = names[random(names.length)]!;
        const cased = [name, name.toLowerCase(), name.toUpperCase()][random(3)]!;
        // Content-Length must agree with the body, and Expect asks for a 100: neither varies here.
        return [cased.toLowerCase() === 'content-length' ? 'X-Length' : cased, `v${random(1000)}`] as const;
      });
      await expectSameAsNode(lines);
    }
  });

  it(`keeps at most ${MAX_NAMES} names learned, however many a client sends, and still learns the names that come after`, async () => {
    for (let batch = 0; batch < 10; batch++) {
      await expectSameAsNode(Array.from({ length: 30 }, (_, index) => [`X-Hostile-${batch}-${index}`, 'v'] as const));
      expect(learnedNameCount()).toBeLessThanOrEqual(MAX_NAMES);
    }
    // Past the bound, a name first seen now is learned (not left to node's slower path for good).
    await expectSameAsNode([['X-After-The-Flood', 'v'], ...BROWSER]);
    expect(isLearned('X-After-The-Flood')).toBe(true);
    expect(learnedNameCount()).toBeLessThanOrEqual(MAX_NAMES);
  });

  it("is node's again after a handler sets it to null or '', and is what was set when that is an object", async () => {
    for (const path of ['/set/null', '/set/empty', '/set/object']) await expectSameAsNode(BROWSER, path);
  });
});
