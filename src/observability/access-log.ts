import pino from 'pino';
import { LineBatches, type ByteSink, type EncodedLine } from './log-batches.js';
import type { Logger } from './logger.js';

/** What the line about one HTTP request says (observed-listener.ts). */
export type AccessLogEntry = {
  /** From request-id.ts: 1 to 128 characters of `[\w.:@/+=-]`, nothing JSON must escape. */
  reqId: string;
  method: string;
  path: string;
  status: number;
  /** Milliseconds; written rounded to hundredths. */
  ms: number;
  /** A GraphQL operation type: `query`, `mutation` or `subscription`. */
  operation?: string;
  /** A GraphQL Name (`[_A-Za-z][_0-9A-Za-z]*`), from a parsed document: nothing to escape. */
  operationName?: string;
  errorCodes?: string[];
  aborted?: true;
};

export type AccessLog = (level: 'info' | 'debug', entry: AccessLogEntry) => void;

/**
 * Writes the line about one request, at `info` or `debug`: the line pino would write for
 * `logger[level](entry, `${method} ${path} ${status}`)` with `ms` rounded to hundredths
 * (test/access-log.test.ts compares them, through the logger's batches and through any other
 * destination).
 *
 * Every request writes one, so it is written as bytes, straight into the batch on its way to stdout
 * (log-batches.ts), rather than formatted by pino's walk over the object's keys into a string that
 * is then copied twice more: on a quiet machine, the line cost about a tenth of a `{ hello }`'s
 * throughput that way, and costs half as much now (bench/README.md, "Observing, and the browser's
 * request, measured in duels"). What repeats from request to
 * request is encoded once and copied: the text from the method to the duration, and the message,
 * for the last method, path and status seen. Other lines, and those about server errors (with
 * their `err`), go through pino as usual.
 */
export function createAccessLog(logger: Logger): AccessLog {
  const stream = (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!;
  const sink: ByteSink = stream instanceof LineBatches ? stream : new TextSink(stream);
  const line = new AccessLine();
  return (level, entry) => {
    if (!logger.isLevelEnabled(level)) return;
    line.set(level, entry);
    sink.append(line);
  };
}

const bytes = (text: string) => Buffer.from(text, 'utf8');
/** The start of a line, before its time, at each level. */
const INFO_START = bytes('{"level":"info","time":');
const DEBUG_START = bytes('{"level":"debug","time":');
/** The longest of them. */
const STAMP_BYTES = DEBUG_START.length;
const REQ_ID = bytes(',"reqId":"');
const OPERATION = bytes(',"operation":"');
const OPERATION_NAME = bytes(',"operationName":"');
const QUOTE = bytes('"');
const ERROR_CODES = bytes(',"errorCodes":');
const ABORTED = bytes(',"aborted":true');
/** A number's most digits here: 2^53 has 16; a duration's fraction adds three. */
const NUMBER_BYTES = 20;
/** A string field's most bytes for each UTF-16 unit: a control character escaped as \u001f. */
const ESCAPED_BYTES = 6;

/** One access line, set for each request and then written by the sink (one object for all: nothing to allocate per line). */
class AccessLine implements EncodedLine {
  #level: 'info' | 'debug' = 'info';
  #entry!: AccessLogEntry;
  #errorCodes: Buffer | undefined;
  // The shape: the bytes from the request id's closing quote to the duration, and from there to
  // the end, for the last method, path and status.
  #method: string | undefined;
  #path: string | undefined;
  #status = 0;
  #middle = bytes('');
  #tail = bytes('');

  set(level: 'info' | 'debug', entry: AccessLogEntry): void {
    this.#level = level;
    this.#entry = entry;
    this.#errorCodes = entry.errorCodes === undefined ? undefined : bytes(JSON.stringify(entry.errorCodes));
    if (entry.method !== this.#method || entry.path !== this.#path || entry.status !== this.#status) {
      const { method, path, status } = entry;
      this.#middle = bytes(`","method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"status":${status},"ms":`);
      this.#tail = bytes(`,"msg":${JSON.stringify(`${method} ${path} ${status}`)}}\n`);
      this.#method = method;
      this.#path = path;
      this.#status = status;
    }
  }

  maxBytes(): number {
    const { reqId, operation = '', operationName = '' } = this.#entry;
    return (
      STAMP_BYTES +
      REQ_ID.length +
      this.#middle.length +
      this.#tail.length +
      OPERATION.length +
      OPERATION_NAME.length +
      ERROR_CODES.length +
      ABORTED.length +
      3 * QUOTE.length +
      // The time and the duration.
      2 * NUMBER_BYTES +
      ESCAPED_BYTES * (reqId.length + operation.length + operationName.length) +
      (this.#errorCodes?.length ?? 0)
    );
  }

  writeInto(buffer: Buffer, at: number): number {
    const entry = this.#entry;
    at = put(buffer, at, this.#level === 'info' ? INFO_START : DEBUG_START);
    at = putInteger(buffer, at, Date.now());
    at = put(buffer, at, REQ_ID);
    at = putPlain(buffer, at, entry.reqId);
    at = put(buffer, at, this.#middle);
    at = putHundredths(buffer, at, entry.ms);
    if (entry.operation !== undefined) {
      at = put(buffer, at, OPERATION);
      at = putPlain(buffer, at, entry.operation);
      at = put(buffer, at, QUOTE);
    }
    if (entry.operationName !== undefined) {
      at = put(buffer, at, OPERATION_NAME);
      at = putPlain(buffer, at, entry.operationName);
      at = put(buffer, at, QUOTE);
    }
    if (this.#errorCodes !== undefined) {
      at = put(buffer, at, ERROR_CODES);
      at = put(buffer, at, this.#errorCodes);
    }
    if (entry.aborted) at = put(buffer, at, ABORTED);
    return put(buffer, at, this.#tail);
  }
}

/** For a destination that takes strings (tests, pino-pretty on a terminal): the same bytes, as a string. */
class TextSink implements ByteSink {
  #scratch = Buffer.allocUnsafe(4096);

  constructor(private readonly stream: { write(line: string): void }) {}

  append(line: EncodedLine): void {
    const most = line.maxBytes();
    if (most > this.#scratch.length) this.#scratch = Buffer.allocUnsafe(most);
    this.stream.write(this.#scratch.toString('utf8', 0, line.writeInto(this.#scratch, 0)));
  }
}

function put(buffer: Buffer, at: number, part: Buffer): number {
  buffer.set(part, at);
  return at + part.length;
}

/**
 * A string whose characters JSON keeps as they are (printable ASCII but `"` and `\`: request ids,
 * GraphQL names), a byte each, without a call into C++. Anything else is JSON-escaped, as pino would.
 */
function putPlain(buffer: Buffer, at: number, text: string): number {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return at + buffer.write(JSON.stringify(text).slice(1, -1), at);
    buffer[at + index] = code;
  }
  return at + text.length;
}

/** A non-negative integer's decimal digits. */
function putInteger(buffer: Buffer, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  const end = at + digits;
  let position = end;
  do {
    const next = Math.floor(value / 10);
    buffer[--position] = 0x30 + value - next * 10;
    value = next;
  } while (value > 0);
  return end;
}

/** `String(Math.round(ms * 100) / 100)` (the double nearest a decimal of two places prints as that decimal), from integer hundredths. */
function putHundredths(buffer: Buffer, at: number, ms: number): number {
  let all = Math.round(ms * 100);
  // A duration is never negative; should one ever be, or not a number, it is written as 0.
  if (!(all >= 0 && all <= Number.MAX_SAFE_INTEGER)) all = 0;
  const whole = Math.floor(all / 100);
  const part = all - whole * 100;
  at = putInteger(buffer, at, whole);
  if (part === 0) return at;
  buffer[at++] = 0x2e;
  const tens = Math.floor(part / 10);
  buffer[at++] = 0x30 + tens;
  if (part !== tens * 10) buffer[at++] = 0x30 + part - tens * 10;
  return at;
}
