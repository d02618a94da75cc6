import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Headers that the listener in front of both paths adds to every answer (the request id, the CORS
 * headers), kept with the request until its answer is written rather than set on the response at
 * once.
 *
 * Why: node's `writeHead(status, headers)` sends the headers it is given as they are, unless a
 * header was set before it with `setHeader`; then every header of the answer goes one by one
 * through `setHeader` (node 20; `removeHeader` and `appendHeader` in node 22), with its checks,
 * into the response's header map, and the head is made from that map. A browser's answer set eight
 * headers early; plain and browser answers alike cost about 6 % fewer instructions without it
 * (bench/README.md).
 *
 * So the fast path writes them in its single `writeHead` (`answerHeadersOf`), and every other
 * answer, which is rare or goes through Yoga's adapter anyway, sets them on the response before it
 * writes (`setAnswerHeaders`; every refusal through refuse.ts does so itself).
 */
const ANSWER_HEADERS = Symbol('answer headers');

type WithAnswerHeaders = IncomingMessage & { [ANSWER_HEADERS]?: string[] };

/** Adds a header to the answer to `req`, whichever path writes it. */
export function addAnswerHeader(req: IncomingMessage, name: string, value: string): void {
  const headers = (req as WithAnswerHeaders)[ANSWER_HEADERS];
  if (headers === undefined) (req as WithAnswerHeaders)[ANSWER_HEADERS] = [name, value];
  else headers.push(name, value);
}

/**
 * The headers added to the answer to `req` (name, value, name, value...), for a `writeHead` that
 * sends them. They stay kept: should that `writeHead` throw, the 500 sent instead still carries them.
 */
export function answerHeadersOf(req: IncomingMessage): readonly string[] | undefined {
  return (req as WithAnswerHeaders)[ANSWER_HEADERS];
}

/** Sets the headers added to the answer on `res`, for an answer written any other way (refuse.ts does for every refusal). */
export function setAnswerHeaders(res: ServerResponse): void {
  const headers = (res.req as WithAnswerHeaders)[ANSWER_HEADERS];
  if (headers === undefined) return;
  for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i]!, headers[i + 1]!);
}
