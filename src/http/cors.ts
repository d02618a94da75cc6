import type { IncomingMessage, ServerResponse } from 'node:http';
import { addAnswerHeader, answerHeadersOf } from './answer-headers.js';

/** How long a browser may keep a preflight's answer, in seconds: one preflight per 10 minutes, not one per request. */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;
const PREFLIGHT_MAX_AGE_SECONDS_TEXT = String(PREFLIGHT_MAX_AGE_SECONDS);

/** Response headers a page's script may read: the request id, to quote in a bug report. */
export const EXPOSED_HEADERS = 'x-request-id';

/**
 * The CORS policy (CORS_ORIGINS), applied by the HTTP listener to every request before either path
 * (the fast path or Yoga's, whose own CORS is off), so that both answer alike:
 *
 * - an Origin that is listed gets the headers Yoga's CORS plugin would send for a list of origins
 *   with credentials (@whatwg-node/server's useCORS): the origin itself, `Vary: Origin`, credentials,
 *   the method and headers the preflight asked for; plus a max age and the request id exposed;
 * - any other Origin gets no CORS header at all: its page cannot read the answer, nor send a
 *   request that needs a preflight (JSON, an Authorization header). Yoga, unconfigured, reflected
 *   any origin with credentials; here no origin is allowed unless listed;
 * - `Vary: Origin` is sent with every answer to a request that has an Origin, listed or not, so a
 *   cache never serves one origin's answer to another.
 *
 * Preflights (OPTIONS with Access-Control-Request-Method) are answered here, 204, as Yoga answers
 * every OPTIONS, without touching GraphQL.
 */
export function createCorsPolicy(origins: readonly string[]) {
  const allowed = new Set(origins);
  return {
    /**
     * Adds the CORS headers to the answer to `req` (answer-headers.ts); answers a preflight
     * itself. Returns true when the request has been answered.
     */
    apply(req: IncomingMessage, res: ServerResponse): boolean {
      const origin = req.headers.origin;
      const preflight = req.method === 'OPTIONS';
      if (origin === undefined) {
        if (preflight) answerPreflight(req, res);
        return preflight;
      }
      if (!allowed.has(origin)) {
        addAnswerHeader(req, 'vary', 'Origin');
        if (preflight) answerPreflight(req, res);
        return preflight;
      }
      addAnswerHeader(req, 'access-control-allow-origin', origin);
      const requestHeaders = req.headers['access-control-request-headers'];
      addAnswerHeader(req, 'vary', requestHeaders ? 'Origin, Access-Control-Request-Headers' : 'Origin');
      const requestMethod = req.headers['access-control-request-method'];
      if (requestMethod) addAnswerHeader(req, 'access-control-allow-methods', requestMethod);
      if (requestHeaders) addAnswerHeader(req, 'access-control-allow-headers', requestHeaders);
      addAnswerHeader(req, 'access-control-allow-credentials', 'true');
      addAnswerHeader(req, 'access-control-expose-headers', EXPOSED_HEADERS);
      addAnswerHeader(req, 'access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS_TEXT);
      if (!preflight) return false;
      answerPreflight(req, res);
      return true;
    },
  };
}

export type CorsPolicy = ReturnType<typeof createCorsPolicy>;

/** As Yoga answers: 204 with `Content-Length: 0`, which Safari needs to not wait for a body. */
function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(204, [...(answerHeadersOf(req) ?? []), 'content-length', '0']);
  res.end();
}
