import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { graphqlRequest } from './helpers/graphql.js';
import { memoryOf, startProbeProcess, type ProbeReport } from './helpers/probe.js';
import { startServerProcess, type ServerProcess } from './helpers/processes.js';
import { parseResponses } from './helpers/raw-http.js';
import { waitFor } from './helpers/wait-for.js';

// Hostile clients against a server in a process of its own (an attack that works would take the
// test runner down with it), measured as a user sees it: a probe `{ hello(delayMs: 0) }` sent
// again and again, from a third process, stays answered within a second while the attack runs
// from this one; the attack is refused or answered in bounded time, the server is alive
// afterwards, and its memory stays bounded.

const dir = mkdtempSync(join(tmpdir(), 'graphql-async-hostile-'));
let servers: ServerProcess[] = [];
let databaseCount = 0;

async function startServer(env: Record<string, string> = {}, command?: Parameters<typeof startServerProcess>[1]) {
  databaseCount += 1;
  const server = await startServerProcess({ DATABASE_URL: `file:${join(dir, `${databaseCount}.sqlite`)}`, QUEUE_CONCURRENCY: '0', ...env }, command);
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const server of servers) {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exited;
  }
  servers = [];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Resolves when the socket closes, however (events.once would reject on an ECONNRESET first). */
const closeOf = (socket: Socket) => new Promise<void>((resolve) => socket.on('close', () => resolve()));

/** What a user saw while the attack ran: every probe answered, none slower than a second. */
const expectProbesUnharmed = (report: ProbeReport) => {
  expect(report.failed).toBe(0);
  expect(report.slowestMs).toBeLessThan(1_000);
};

const expectAlive = async (url: string) => {
  const { body } = await graphqlRequest(fetch, `${url}/graphql`, '{ hello(delayMs: 0) }');
  expect(body.data?.hello).toBe('Hello, World');
};

/** The probes were unharmed, the process's peak memory grew by less than `maxGrowthMb`, and it still serves. */
async function expectUnharmed(server: ServerProcess, report: ProbeReport, rssBeforeMb: number, maxGrowthMb: number) {
  expectProbesUnharmed(report);
  expect(memoryOf(server.child.pid!).peakRssMb - rssBeforeMb).toBeLessThan(maxGrowthMb);
  await expectAlive(server.url);
}

type Stalled = { first: string; socket: Socket };

/**
 * A client that sends `request`, reads the first chunk of the answer (so the server has begun to
 * send it), then reads no more: its socket is paused, the kernel's buffers fill, and the rest of the
 * answer waits in the server.
 */
function stopReadingAfterFirstChunk(baseUrl: string, request: string | Buffer): Promise<Stalled> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      resolve({ first: chunk.toString('latin1'), socket });
    });
    socket.once('close', () => reject(new Error('closed before any answer')));
  });
}

/** Reads what is left for a stalled client, until the connection ends; the bytes of the body it got in all. */
function readToEnd({ first, socket }: Stalled): Promise<number> {
  let received = Buffer.byteLength(first, 'latin1');
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  socket.resume();
  return closeOf(socket).then(() => received - first.indexOf('\r\n\r\n') - 4);
}

/**
 * A client that sends `first`, then `next(n)` every 100 ms (pacing, not synchronisation: it is how a
 * slow client sends) until that gives nothing more; it stops at the first response and resolves with
 * its status (0 if the connection ended without one) and when it came, from `startedAt`.
 */
function slowClient(baseUrl: string, first: string, next: (sent: number) => string | Buffer | undefined, startedAt: number): Promise<{ status: number; afterMs: number }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    let sent = 0;
    // Written now, not on 'connect': node sends what was written before the connection in order,
    // so `first` cannot fall behind a piece the timer writes while the connection is being made.
    const socket = connect(Number(port), hostname);
    socket.write(first);
    const sending = setInterval(() => {
      const piece = next(sent++);
      if (piece === undefined) clearInterval(sending);
      else socket.write(piece);
    }, 100);
    let received = '';
    const answer = (status: number) => {
      clearInterval(sending);
      socket.destroy();
      resolve({ status, afterMs: performance.now() - startedAt });
    };
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      const [response] = parseResponses(received);
      if (response) answer(response.status);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => answer(0));
  });
}

const graphiqlRequest = (encoding = 'identity') => `GET /graphql HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nAccept-Encoding: ${encoding}\r\n\r\n`;

/** Loads GraphiQL fully; resolves with its size in bytes as sent. */
function loadGraphiQL(url: string, encoding: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpRequest(`${url}/graphql`, { headers: { accept: 'text/html', 'accept-encoding': encoding }, agent: false }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve(bytes));
      response.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe('GraphiQL under a flood of page loads', () => {
  it('serves 30 concurrent loads and 100 clients that stop reading from one rendering of the page, in bounded memory', async () => {
    const server = await startServer();
    const pid = server.child.pid!;
    // The first visit loads the renderer (a 9 MB module) and renders the page, once.
    const size = await loadGraphiQL(server.url, 'identity');
    expect(size).toBeGreaterThan(5_000_000);
    const before = memoryOf(pid).rssMb;
    const probe = await startProbeProcess(server.url);

    // As browsers ask (brotli, gzip), and some uncompressed: 9 MB each, more than the kernel takes.
    const encodings = ['br', 'gzip', 'br', 'gzip', 'identity'];
    const stalled = await Promise.all(Array.from({ length: 100 }, (_, index) => stopReadingAfterFirstChunk(server.url, graphiqlRequest(encodings[index % 5]))));
    const loads = await Promise.all(Array.from({ length: 30 }, (_, index) => loadGraphiQL(server.url, encodings[index % 5]!)));

    const report = await probe.stop();
    expect(new Set(loads.filter((_, index) => encodings[index % 5] === 'identity'))).toEqual(new Set([size]));
    expect(stalled.every(({ first }) => first.startsWith('HTTP/1.1 200'))).toBe(true);
    for (const { socket } of stalled) socket.destroy();
    // Every response shares the page's Buffers: none costs a copy of 9 MB (before: 18 MB of heap each).
    await expectUnharmed(server, report, before, 150);
  });
});

describe('response amplification', () => {
  it('refuses 20 responses of 90 MB asked for by clients that never read, without building them', async () => {
    const server = await startServer();
    const pid = server.child.pid!;
    const before = memoryOf(pid).rssMb;
    const probe = await startProbeProcess(server.url);
    // One long string echoed by a hundred aliases: 0.9 MB asked, 90 MB answered.
    const query = `query ($n: String!) { ${Array.from({ length: 100 }, (_, index) => `a${index}: hello(name: $n, delayMs: 0)`).join(' ')} }`;
    const body = JSON.stringify({ query, variables: { n: 'n'.repeat(900_000) } });
    const request = `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const stalled = await Promise.all(Array.from({ length: 20 }, () => stopReadingAfterFirstChunk(server.url, request)));
    const report = await probe.stop();

    for (const { first } of stalled) {
      // Refused whole, by this bound (MAX_RESPONSE_BYTES, 200 with RESPONSE_TOO_LARGE), or by a bound on strings.
      expect(first).toMatch(/^HTTP\/1.1 (200|400)/);
      expect(first).toContain('"errors":[');
      expect(first).not.toContain('nnnnnnnnnn');
    }
    for (const { socket } of stalled) socket.destroy();
    await expectUnharmed(server, report, before, 200);
  });
});

describe('clients that do not read', () => {
  it('drops a connection whose response has waited SEND_TIMEOUT_MS for its client to read', async () => {
    const server = await startServer({ SEND_TIMEOUT_MS: '2000' });
    const pid = server.child.pid!;
    await loadGraphiQL(server.url, 'identity');
    const idle = openFiles(pid);
    const startedAt = performance.now();
    // 9 MB each, uncompressed: more than the kernel's socket buffers take, so most waits in the server.
    const stalled = await Promise.all(Array.from({ length: 10 }, () => stopReadingAfterFirstChunk(server.url, graphiqlRequest())));
    await waitFor(async () => openFiles(pid) <= idle, 15_000);
    expect(performance.now() - startedAt).toBeGreaterThan(1_900);
    // Each client gets what the kernel held for it, then the end of the connection: not the whole page.
    const received = await Promise.all(stalled.map(readToEnd));
    for (const bytes of received) expect(bytes).toBeLessThan(9_000_000);
    await expectAlive(server.url);
  });

  it('drops the longest queues first when the bytes queued for slow readers pass MAX_QUEUED_RESPONSE_BYTES', async () => {
    const server = await startServer({ SEND_TIMEOUT_MS: '600000', MAX_QUEUED_RESPONSE_BYTES: '10000000' });
    const pid = server.child.pid!;
    await loadGraphiQL(server.url, 'identity');
    const idle = openFiles(pid);
    const probe = await startProbeProcess(server.url);
    const stalled = await Promise.all(Array.from({ length: 10 }, () => stopReadingAfterFirstChunk(server.url, graphiqlRequest())));
    // About 5 MB waits in the server for each: ten of them pass 10 MB, so most are dropped at once.
    await waitFor(async () => openFiles(pid) <= idle + 5, 10_000);
    // A client that reads gets the whole page meanwhile.
    expect(await loadGraphiQL(server.url, 'identity')).toBeGreaterThan(9_000_000);
    const report = await probe.stop();
    expectProbesUnharmed(report);
    for (const { socket } of stalled) socket.destroy();
  });
});

describe('slow and partial uploads', () => {
  it('answers 200 clients that each send 999 kB of a 1 MB body slowly and stall: most at once with 503, the rest with 408 at REQUEST_TIMEOUT_MS', async () => {
    const server = await startServer({ MAX_BODY_BYTES_IN_FLIGHT: '20000000', REQUEST_TIMEOUT_MS: '3000', HEADERS_TIMEOUT_MS: '2000' });
    const pid = server.child.pid!;
    const before = memoryOf(pid).rssMb;
    const probe = await startProbeProcess(server.url);
    const head = 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n';
    const chunk = Buffer.alloc(999_000 / 16, 'x');
    const startedAt = performance.now();
    // 62 kB every 100 ms, to 999 kB, then nothing.
    const answers = await Promise.all(Array.from({ length: 200 }, () => slowClient(server.url, head, (sent) => (sent < 16 ? chunk : undefined), startedAt)));
    const report = await probe.stop();
    const statuses = answers.map((answer) => answer.status);
    // At most 20 bodies of 1 MB fit in MAX_BODY_BYTES_IN_FLIGHT; every client got an answer.
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(180);
    expect(statuses.filter((status) => status !== 503 && status !== 408)).toEqual([]);
    expect(Math.max(...answers.map((answer) => answer.afterMs))).toBeLessThan(15_000);
    await expectUnharmed(server, report, before, 150);
  });

  it('answers 408 at HEADERS_TIMEOUT_MS to clients that send their headers a byte at a time, or nothing at all', async () => {
    const server = await startServer({ HEADERS_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '4000' });
    const probe = await startProbeProcess(server.url);
    const startedAt = performance.now();
    // One byte every 100 ms, forever: the client never ends its headers. Or a connection left idle.
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        index % 2 ? slowClient(server.url, 'GET /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ', () => 'a', startedAt) : slowClient(server.url, '', () => undefined, startedAt),
      ),
    );
    const report = await probe.stop();
    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(408));
    expect(Math.max(...answers.map((answer) => answer.afterMs))).toBeLessThan(10_000);
    expectProbesUnharmed(report);
  });
});

describe('connections', () => {
  it('closes a connection past MAX_CONNECTIONS at once, and serves new ones when there is room again', async () => {
    const server = await startServer({ MAX_CONNECTIONS: '50', HEADERS_TIMEOUT_MS: '60000', REQUEST_TIMEOUT_MS: '60000' });
    const { hostname, port } = new URL(server.url);
    const open = async () => {
      const socket = connect(Number(port), hostname);
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      return socket;
    };
    const held: Socket[] = [];
    for (let index = 0; index < 50; index += 1) held.push(await open());
    // The 51st: accepted by the kernel, then closed by the server without a word.
    const extra = await open();
    extra.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    let answered = '';
    extra.on('data', (chunk: Buffer) => (answered += chunk.toString('latin1')));
    await closeOf(extra);
    expect(answered).toBe('');
    // The 50 are still served.
    const first = held[0]!;
    first.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const [reply] = (await once(first, 'data')) as [Buffer];
    expect(reply.toString('latin1')).toMatch(/^HTTP\/1.1 200/);
    for (const socket of held) socket.destroy();
    // Once the server has seen them go, new clients are served.
    await waitFor(async () => (await fetch(`${server.url}/health`).then((response) => response.status).catch(() => 0)) === 200, 10_000);
  });
});

describe('a shutdown while the event loop is busy', () => {
  it('answers every connection the kernel accepted before the stop: none is reset', async () => {
    const busyUntil = join(dir, `busy-${Date.now()}`);
    const server = await startServer({ BUSY_UNTIL_FILE: busyUntil }, [process.execPath, ['--import', 'tsx', '--import', './test/helpers/busy-on-signal.ts', 'src/main.ts']]);
    const busy = new Promise<void>((resolve) => server.child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('event loop busy') && resolve()));
    server.child.kill('SIGUSR2');
    await busy;

    // 50 clients connect (the kernel completes their handshakes) and send a request, while node
    // cannot accept: its event loop is held. Then SIGTERM, then the loop is let go.
    const { hostname, port } = new URL(server.url);
    const body = JSON.stringify({ query: '{ hello(delayMs: 0) }' });
    const request = `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const clients = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const socket = connect(Number(port), hostname);
        let received = '';
        let error = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        socket.on('error', (cause: NodeJS.ErrnoException) => (error = cause.code ?? cause.message));
        const closed = closeOf(socket).then(() => ({ responses: parseResponses(received), error }));
        await once(socket, 'connect');
        await new Promise<void>((resolve) => socket.write(request, () => resolve()));
        return { closed };
      }),
    );
    server.child.kill('SIGTERM');
    writeFileSync(busyUntil, '');

    const outcomes = await Promise.all(clients.map(({ closed }) => closed));
    const answered = outcomes.filter(({ responses }) => responses.length === 1);
    expect(outcomes.filter(({ responses }) => responses.length !== 1).map(({ error }) => error || 'closed without an answer')).toEqual([]);
    for (const { responses } of answered) {
      const [response] = responses;
      if (response!.status === 503) {
        expect(response!.headers.connection).toBe('close');
        expect(JSON.parse(response!.body).errors[0].extensions.code).toBe('SHUTTING_DOWN');
      } else {
        expect(response!.status).toBe(200);
      }
    }
    const { code, stdout } = await server.exited;
    expect(stdout).toContain('Stopped cleanly.');
    expect(code).toBe(0);
  });
});

describe('a stdout nobody reads', () => {
  it('does not keep the server from stopping: on SIGTERM it exits once its log cannot be written, rather than wait forever', async () => {
    const server = await startServer({ LOG_LEVEL: 'info' });
    // A stalled log shipper: the pipe fills, and then every write of the log would block.
    server.child.stdout!.pause();
    const body = JSON.stringify({ query: '{ hello(delayMs: 0) }' });
    for (let n = 0; n < 2_000; n += 1) {
      const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    server.child.kill('SIGTERM');
    const exited = await Promise.race([server.exited, new Promise<'hung'>((resolve) => setTimeout(resolve, 20_000, 'hung'))]);
    expect(exited).not.toBe('hung');
  }, 60_000);
});
