import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The request's id: the caller's `x-request-id` when it is a plausible id (a proxy or a client that
 * traces its own requests sets one), so that one id follows the request through every service;
 * otherwise a new UUID. Anything longer than 128 characters or with other characters than these is
 * replaced, not echoed: the id is written into every log line and response about the request.
 */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && VALID_ID.test(sent) ? sent : randomUUID();
}

const VALID_ID = /^[\w.:@/+=-]{1,128}$/;
