import type { Plugin } from 'graphql-yoga';
import { declaredContentLength } from './content-length.js';
import { BadRequestError, RequestTooLargeError } from './errors.js';

/**
 * Bounds every request body to `limit` bytes, as Yoga's own `maxRequestBodySize` does (which we turn
 * off), but without its cost on the common request.
 *
 * Yoga wraps every body in a TransformStream that counts bytes, even when a valid Content-Length
 * already bounds it: Node's HTTP parser never delivers more than Content-Length bytes. The wrapper
 * costs a stream pipeline per request, and an AbortController that builds a DOMException with a
 * stack trace when the request closes. Here a declared length is checked against the limit
 * (413 before anything is read), and only a body without one (chunked) is counted as it streams.
 */
export function useRequestBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const declared = declaredContentLength(request.headers.get('content-length'));
      if (declared !== undefined) {
        if (Number.isNaN(declared)) {
          throw new BadRequestError('Content-Length header is invalid.');
        }
        if (declared > limit) throw new RequestTooLargeError();
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => parse(withCountedBody(req, limit, fetchAPI)));
    },
  };
}

/**
 * The request with a body that errors (413) as soon as more than `limit` bytes have streamed in.
 * The stream classes must match the body's: a native ReadableStream takes the native
 * TransformStream, @whatwg-node's ponyfill body takes the ponyfill's (as in Yoga's own limit).
 */
function withCountedBody(request: Request, limit: number, fetchAPI: { TransformStream: typeof TransformStream; Request: typeof Request }): Request {
  let bytesRead = 0;
  const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  const counted = request.body!.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytesRead += chunk.byteLength;
        if (bytesRead > limit) controller.error(new RequestTooLargeError());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, signal: request.signal, body: counted, duplex: 'half' } as RequestInit);
}
