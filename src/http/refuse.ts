import type { ServerResponse } from 'node:http';
import type { GraphQLError } from 'graphql';
import { setAnswerHeaders } from './answer-headers.js';

export type RefuseOptions = {
  /** Close the connection after the answer: the request's body was not read, or the server is stopping. */
  close?: boolean;
  /** Sent as Retry-After, for refusals that a later attempt may pass. */
  retryAfterSeconds?: number;
};

/**
 * Answers a request that the HTTP layer refuses before any GraphQL runs, in the shape of a GraphQL
 * request error (`{"errors":[{"message", "extensions":{"code"}}]}`, as Yoga answers a malformed
 * request), so that a client reads it as it reads any other error. Nothing of the request is
 * quoted back.
 */
export function refuse(res: ServerResponse, status: number, error: GraphQLError, { close = false, retryAfterSeconds }: RefuseOptions = {}): void {
  if (res.headersSent || res.writableEnded) return;
  // The request id and CORS headers the listener in front added to every answer, this one too.
  setAnswerHeaders(res);
  // Yoga's own answers leave out `extensions.http` (what status to send); so does this one.
  const { http: _http, ...extensions } = error.extensions;
  const body = JSON.stringify({ errors: [{ message: error.message, extensions }] });
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = retryAfterSeconds;
  // node:http then sends `Connection: close` and closes the socket once the answer is out.
  if (close) res.shouldKeepAlive = false;
  res.writeHead(status, headers);
  res.end(body);
}
