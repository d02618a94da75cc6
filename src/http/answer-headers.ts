import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Headers that the listener in front of both paths adds to every answer (the request id, the CORS
 * headers), kept with the request until its answer is written rather than set on the response at
 * once.
 *
 * Why: node's `writeHead(status, headers)` sends the headers it is given as they are, unless a
 * header was set before it with `setHeader`; then every header of the answer goes one by one
 * through `removeHeader` and `appendHeader`, with their checks, into the response's header map.
 * One early `setHeader('x-request-id')` cost about 7 % of a `{ hello }`'s instructions.
 *
 * So the fast path writes them in its single `writeHead` (`takeAnswerHeaders`), and every other
 * answer, which is rare or goes through Yoga's adapter anyway, sets them on the response before it
 * writes (`setAnswerHeaders`). Each path takes them once.
 */
const ANSWER_HEADERS = Symbol('answer headers');

type WithAnswerHeaders = IncomingMessage & { [ANSWER_HEADERS]?: string[] };

/** Adds a header to the answer to `req`, whichever path writes it. */
export function addAnswerHeader(req: IncomingMessage, name: string, value: string): void {
  const headers = (req as WithAnswerHeaders)[ANSWER_HEADERS];
  if (headers === undefined) (req as WithAnswerHeaders)[ANSWER_HEADERS] = [name, value];
  else headers.push(name, value);
}

/** The headers added to the answer to `req` (name, value, name, value...), for a `writeHead` that sends them; they are no longer kept. */
export function takeAnswerHeaders(req: IncomingMessage): string[] | undefined {
  const headers = (req as WithAnswerHeaders)[ANSWER_HEADERS];
  (req as WithAnswerHeaders)[ANSWER_HEADERS] = undefined;
  return headers;
}

/** Sets the headers added to the answer to `req` on `res`, for an answer written any other way. */
export function setAnswerHeaders(req: IncomingMessage, res: ServerResponse): void {
  const headers = takeAnswerHeaders(req);
  if (headers === undefined) return;
  for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i]!, headers[i + 1]!);
}
