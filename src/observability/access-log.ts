import pino from 'pino';
import type { Logger } from './logger.js';

/** What the line about one HTTP request says (observed-listener.ts). */
export type AccessLogEntry = {
  /** From request-id.ts: 1 to 128 characters of `[\w.:@/+=-]`, nothing JSON must escape. */
  reqId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  operation?: string;
  /** A GraphQL Name (`[_A-Za-z][_0-9A-Za-z]*`), from a parsed document: nothing to escape. */
  operationName?: string;
  errorCodes?: string[];
  aborted?: true;
};

/**
 * Writes the line about one request, at `info` or `debug`, to the logger's destination: the same
 * line pino would write for `logger[level](entry, message)` (test/access-log.test.ts compares
 * them), made with one template rather than by pino's walk over the object's keys. Every request
 * writes one, and pino's general formatting was its largest cost after the write itself (about
 * 3 µs of a `{ hello }`'s 60; bench/README.md, "The cost of observing"). Other lines, and those
 * about server errors (with their `err`), go through pino as usual.
 */
export function createAccessLog(logger: Logger): (level: 'info' | 'debug', entry: AccessLogEntry, message: string) => void {
  const stream = (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!;
  return (level, entry, message) => {
    if (!logger.isLevelEnabled(level)) return;
    let line = `{"level":"${level}","time":${Date.now()},"reqId":"${entry.reqId}","method":${JSON.stringify(entry.method)},"path":${JSON.stringify(entry.path)},"status":${entry.status},"ms":${entry.ms}`;
    if (entry.operation !== undefined) line += `,"operation":"${entry.operation}"`;
    if (entry.operationName !== undefined) line += `,"operationName":"${entry.operationName}"`;
    if (entry.errorCodes !== undefined) line += `,"errorCodes":${JSON.stringify(entry.errorCodes)}`;
    if (entry.aborted) line += ',"aborted":true';
    stream.write(`${line},"msg":${JSON.stringify(message)}}\n`);
  };
}
