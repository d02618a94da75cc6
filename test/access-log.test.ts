import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAccessLog, type AccessLogEntry } from '../src/observability/access-log.js';
import { createLogger, type Logger } from '../src/observability/logger.js';

// The request line is written as bytes of its own, for speed: a log collector must not be able to tell.
const entries: AccessLogEntry[] = [
  { reqId: 'a1b2-c3', method: 'POST', path: '/graphql', status: 200, ms: 0.12, operation: 'query' },
  { reqId: 'trace:42/x+y=z@w.v', method: 'POST', path: '/graphql', status: 200, ms: 12, operation: 'mutation', operationName: 'Pay', errorCodes: ['INSUFFICIENT_FUNDS', 'BAD_USER_INPUT'] },
  { reqId: 'id', method: 'GET', path: '/a "quoted" \\ path\u0001é\u{1f600}', status: 404, ms: 1.5, aborted: true },
  { reqId: 'id', method: 'GET', path: '/health', status: 200, ms: 0.01 },
  // Durations as measured, with more digits than the line keeps: written rounded to hundredths.
  ...[0, 0.004, 0.005, 0.0712, 0.1049, 0.999, 1.0049, 7.25, 99.995, 1234.5678, 60_000.01].map((ms) => ({ reqId: 'id', method: 'POST', path: '/graphql', status: 200, ms })),
  // Not what the server sends (request-id.ts and GraphQL's grammar rule these out), but escaped as pino would.
  { reqId: 'odd"id\\', method: 'POST', path: '/graphql', status: 400, ms: 3, operation: 'query', operationName: 'Named\u0007é', errorCodes: ['BAD_REQUEST', 'é"\n'] },
  // A name longer than a whole batch: the line gets a buffer of its own.
  { reqId: 'long', method: 'POST', path: '/graphql', status: 200, ms: 2, operation: 'query', operationName: `Q${'x'.repeat(50_000)}` },
];

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');

/** Each entry, written by the access log of `ours` and by pino itself (`theirs`), at debug for /health and info otherwise. */
function writeBoth(ours: Logger, theirs: Logger, times = 1): void {
  const access = createAccessLog(ours);
  for (let round = 0; round < times; round += 1) {
    for (const entry of entries) {
      const level = entry.path === '/health' ? 'debug' : 'info';
      access(level, entry);
      theirs[level]({ ...entry, ms: Math.round(entry.ms * 100) / 100 }, `${entry.method} ${entry.path} ${entry.status}`);
    }
    // A line of another kind, written by pino on both.
    for (const logger of [ours, theirs]) logger.warn({ round, note: 'é\u0000' }, 'between the requests');
  }
}

describe('the access log', () => {
  it('writes, byte for byte but the time, the line pino writes for the same fields', () => {
    const ours: string[] = [];
    const pinos: string[] = [];
    writeBoth(
      createLogger({ level: 'debug', destination: { write: (line) => void ours.push(line) } }),
      createLogger({ level: 'debug', destination: { write: (line) => void pinos.push(line) } }),
    );
    expect(ours.map(withoutTime)).toEqual(pinos.map(withoutTime));
    for (const line of ours) expect(JSON.parse(line).time).toBeGreaterThan(Date.now() - 60_000);
  });

  it('writes the same bytes into the batches on their way to stdout, across many batches', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'access-log-')), 'log');
    const ours = createLogger({ level: 'debug', file });
    const pinos: string[] = [];
    // Enough lines for tens of batches, with pino's own lines in between (the other lines of a server's log).
    writeBoth(ours, createLogger({ level: 'debug', destination: { write: (line) => void pinos.push(line) } }), 20);
    await new Promise<void>((resolve) => ours.flush(() => resolve()));
    const written = readFileSync(file, 'utf8').split('\n').slice(0, -1);
    expect(written.length).toBe(pinos.length);
    expect(written.map(withoutTime)).toEqual(pinos.map((line) => withoutTime(line.slice(0, -1))));
  });

  it('writes nothing below the logger’s level', () => {
    const lines: string[] = [];
    const access = createAccessLog(createLogger({ level: 'info', destination: { write: (line) => void lines.push(line) } }));
    access('debug', entries[3]!);
    expect(lines).toEqual([]);
  });
});
