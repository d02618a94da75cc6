import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body whose Content-Length the caller has checked, and calls `done` with it once
 * it has all arrived. Node's parser never delivers more bytes than Content-Length, so the checked
 * length bounds the memory. A client that leaves mid-body never reaches `done`: nothing waits on it.
 */
export function readBody(request: IncomingMessage, length: number, done: (body: Buffer) => void): void {
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  request.on('data', (chunk: Buffer) => {
    if (first === undefined) first = chunk;
    else (chunks ??= [first]).push(chunk);
  });
  // A client that resets the connection mid-body makes the request emit 'error' (ECONNRESET):
  // with no listener that would be an uncaught exception, so it is ignored here; 'end' never comes.
  request.on('error', ignore);
  request.once('end', () => done(chunks ? Buffer.concat(chunks, length) : (first ?? EMPTY)));
}

const EMPTY = Buffer.alloc(0);
const ignore = () => {};
