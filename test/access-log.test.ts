import { describe, expect, it } from 'vitest';
import { createAccessLog, type AccessLogEntry } from '../src/observability/access-log.js';
import { createLogger } from '../src/observability/logger.js';

// The request line is written by a template of its own, for speed: a log collector must not be able to tell.
const entries: AccessLogEntry[] = [
  { reqId: 'a1b2-c3', method: 'POST', path: '/graphql', status: 200, ms: 0.12, operation: 'query' },
  { reqId: 'trace:42/x+y=z@w.v', method: 'POST', path: '/graphql', status: 200, ms: 12, operation: 'mutation', operationName: 'Pay', errorCodes: ['INSUFFICIENT_FUNDS', 'BAD_USER_INPUT'] },
  { reqId: 'id', method: 'GET', path: '/a "quoted" \\ path\u0001é', status: 404, ms: 1.5, aborted: true },
  { reqId: 'id', method: 'GET', path: '/health', status: 200, ms: 0.01 },
];

describe('the access log', () => {
  it('writes, byte for byte but the time, the line pino writes for the same fields', () => {
    const ours: string[] = [];
    const pinos: string[] = [];
    const access = createAccessLog(createLogger({ level: 'debug', destination: { write: (line) => void ours.push(line) } }));
    const logger = createLogger({ level: 'debug', destination: { write: (line) => void pinos.push(line) } });
    for (const [index, entry] of entries.entries()) {
      const level = index === 3 ? 'debug' : 'info';
      access(level, entry, `${entry.method} ${entry.path} ${entry.status}`);
      logger[level](entry, `${entry.method} ${entry.path} ${entry.status}`);
    }
    const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');
    expect(ours.map(withoutTime)).toEqual(pinos.map(withoutTime));
    for (const line of ours) expect(JSON.parse(line).time).toBeGreaterThan(Date.now() - 60_000);
  });

  it('writes nothing below the logger’s level', () => {
    const lines: string[] = [];
    const access = createAccessLog(createLogger({ level: 'info', destination: { write: (line) => void lines.push(line) } }));
    access('debug', entries[3]!, 'GET /health 200');
    expect(lines).toEqual([]);
  });
});
