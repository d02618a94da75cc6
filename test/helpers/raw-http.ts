import { connect, type Socket } from 'node:net';

export type RawResponse = { status: number; headers: Record<string, string>; body: string };

export type RawExchange = {
  /** Every byte the server sent, as latin1 (so any byte survives), until it closed or `timeoutMs`. */
  raw: string;
  /** The responses found in `raw`, in order (Content-Length or close-delimited bodies). */
  responses: RawResponse[];
  /** A socket error (ECONNRESET…), if the connection ended with one. */
  error?: string;
  /** Whether the server closed the connection before `timeoutMs`. */
  closed: boolean;
};

/**
 * Sends bytes exactly as given on a new connection (nothing is added: no Host, no framing) and
 * collects what comes back until the server closes the connection, or `timeoutMs` passes. For
 * requests that an HTTP client library would refuse to send, as a hostile client sends them.
 */
export function sendRaw(baseUrl: string, data: string | Buffer, { timeoutMs = 10_000, onSocket }: { timeoutMs?: number; onSocket?: (socket: Socket) => void } = {}): Promise<RawExchange> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let closed = false;
    const socket = connect(Number(port), hostname, () => socket.write(data));
    onSocket?.(socket);
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (cause: NodeJS.ErrnoException) => (error = cause.code ?? cause.message));
    socket.on('end', () => (closed = true));
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      resolve({ raw, responses: parseResponses(raw), error, closed: closed || error !== undefined });
    });
  });
}

/** Splits a stream of HTTP/1.x responses; bodies framed by Content-Length, chunked, or running to the end. */
export function parseResponses(raw: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = raw;
  while (rest.startsWith('HTTP/')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) break;
    const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    rest = rest.slice(headEnd + 4);
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (let size = parseInt(rest, 16); size > 0 && !Number.isNaN(size); size = parseInt(rest, 16)) {
        const start = rest.indexOf('\r\n') + 2;
        body += rest.slice(start, start + size);
        rest = rest.slice(start + size + 2);
      }
      rest = rest.slice(rest.indexOf('\r\n\r\n') + 4);
    } else {
      const length = headers['content-length'] === undefined ? rest.length : Number(headers['content-length']);
      body = rest.slice(0, length);
      rest = rest.slice(length);
    }
    responses.push({ status, headers, body });
  }
  return responses;
}

/** What a response must never hold: a stack frame, a file path, a module path. */
export const INTERNALS = /\n\s+at |node_modules|\/work\/|file:\/\/|\.ts:\d|\.js:\d/;
