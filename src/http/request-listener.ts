import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { processRegularResult, type GraphQLParams, type YogaServerInstance } from 'graphql-yoga';
import { answerHeadersOf, setAnswerHeaders } from './answer-headers.js';
import { BadRequestError, ServerBusyError } from './errors.js';
import { errorsOfThrow } from '../graphql/masking.js';
import type { ResponseSizeLimit } from '../graphql/plugins/response-size-limit.js';
import { BodyBudget, SMALL_BODY_BYTES } from './body-budget.js';
import { declaredContentLength } from './content-length.js';
import { readGraphQLParams } from './graphql-params.js';
import { createLazySignalRequestClass } from './lazy-signal-request.js';
import { negotiateJsonMediaType, type JsonMediaType } from './negotiate.js';
import { readBody } from './read-body.js';
import { refuse } from './refuse.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yoga = YogaServerInstance<any, any>;

export type RequestListenerOptions = {
  /** Bodies past this many bytes are refused (413); the same bound as useRequestBodyLimit's. */
  maxBodyBytes: number;
  /** Bytes of larger-than-small bodies received at once (body-budget.ts); past it, 503 SERVER_BUSY. */
  maxBodyBytesInFlight: number;
  /** Whether the common request takes the fast path below; when false every request goes to Yoga. */
  fastPath: boolean;
  /** MAX_RESPONSE_BYTES: the fast path bounds its results as Yoga's result processing does. */
  boundResult: ResponseSizeLimit['bound'];
};

/**
 * The server's node:http listener: Yoga's own request handler, with a fast path in front of it for
 * the request nearly every client sends, a POST of `application/json` to the GraphQL endpoint.
 *
 * Why: in a profile of `{ hello }`, GraphQL is a few per cent of the CPU; most of it goes to Yoga's
 * adapter between node:http and the Fetch API (@whatwg-node/server: a Request with a streamed body
 * and a Proxy signal, six onRequest hooks, eight request parsers, a Response, a write and an end)
 * and to the garbage it leaves. docs/performance.md has the figures.
 *
 * What the fast path does: reads the body (its Content-Length checked against the limit first),
 * parses the parameters, and hands them to Yoga's own `getResultForParams` — the onParams hooks,
 * then envelop's parse, validate, context and execute with every plugin (limits, masking, the
 * parse/validate cache, JIT, cancellation), then the onExecutionResult hooks — and serialises the
 * result with Yoga's own `processRegularResult`. Only the HTTP adapter and the routing hooks
 * that do not apply to this request are skipped: health, readiness and GraphiQL (other paths and
 * methods), CORS (the listener in front of both paths applies it: observed-listener.ts), request
 * parsing (done here), result-processor selection (negotiate.ts, for plain results only). Because
 * hooks are skipped, it runs only with plugins known to be safe for it (fast-path-plugins.ts).
 *
 * Which path a request takes is decided before any hook runs, and never changed after: other
 * methods and paths, other content types, chunked or oversized bodies, Accept headers asking for a
 * stream, and bodies that are not plain parameters go to Yoga unchanged. Once `getResultForParams`
 * is called, the fast path answers, whatever happens: a syntax error, a limit or an invalid
 * variable is a result like any other, and a throw (a plugin's onParams or onExecutionResult hook)
 * is answered once, masked, as Yoga answers it (masking.ts), never handed to Yoga to run again:
 * the operation may have run, and a mutation must not run twice. A test (test/fast-path.test.ts)
 * sends one corpus both ways and compares status, headers and bodies.
 *
 * Before either path, every request passes two checks of its own (so both paths answer alike):
 * - its Host header and request target must make a URL: Yoga's adapter builds one from them, and
 *   when that throws, @whatwg-node answers 500 with the error's stack (file paths included) as
 *   the body. Here such a request gets 400 BAD_REQUEST;
 * - a body larger than SMALL_BODY_BYTES must fit in the budget of bodies in flight (503 SERVER_BUSY
 *   at once; node drops the body as it comes).
 */
export type AppRequestListener = RequestListener & {
  /** How many requests the fast path has answered itself, for tests and diagnostics. */
  readonly fastPathAnswers: number;
};

export function createRequestListener(yoga: Yoga, options: RequestListenerOptions): AppRequestListener {
  // Read once: `yoga` is @whatwg-node's Proxy, whose `get` makes a new bound function on every read.
  const { graphqlEndpoint: endpoint, fetchAPI, waitUntil, logger } = yoga;
  const getResultForParams = yoga.getResultForParams;
  let fastPathAnswers = 0;
  const bodies = new BodyBudget(options.maxBodyBytesInFlight);
  // Clients send the same Host on every request: check a new value once, not every request.
  let lastValidHost: string | undefined;
  const FastPathRequest = createLazySignalRequestClass(fetchAPI.Request);
  const yogaWithBody = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    setAnswerHeaders(res);
    // The adapter takes a body already read from `req.body` (as Yoga's Express and Fastify
    // integrations hand it over) instead of reading the stream, which is spent by now.
    (req as IncomingMessage & { body?: Buffer }).body = body;
    yoga(req, res);
  };

  /** The fast path, from a body read: Yoga's if it holds no plain parameters, else answered here. */
  const serve = (req: IncomingMessage, res: ServerResponse, body: Buffer, mediaType: JsonMediaType) => {
    const params = readGraphQLParams(body);
    if (!params) return yogaWithBody(req, res, body);
    // From here on, hooks run and so may the operation: this request is answered here, once.
    fastPathAnswers += 1;
    const url = `http://${req.headers.host ?? 'localhost'}${req.url}`;
    const request = new FastPathRequest(url, { method: 'POST', headers: req.headers as Record<string, string>, body } as RequestInit, res);
    resultOf(params, request, { req, res, waitUntil })
      .then((result) => writeResult(req, res, options.boundResult(result), mediaType, fetchAPI))
      .catch((error: unknown) => {
        // Writing failed (not the operation, whose errors are a result): nothing more can be said.
        logger.error(error);
        if (!res.headersSent) {
          setAnswerHeaders(res);
          // A writeHead that threw may have set its status text already: this one says 500's own.
          res.writeHead(500, 'Internal Server Error');
        }
        res.end();
      });
  };

  /** The operation's result through Yoga's hooks and envelop; a throw becomes Yoga's answer to it. */
  const resultOf = async (params: GraphQLParams, request: Request, serverContext: object): Promise<Result> => {
    try {
      return await getResultForParams({ params, request }, serverContext);
    } catch (error) {
      return { errors: errorsOfThrow(error, logger) };
    }
  };

  /** Yoga's answer to a request the fast path does not take, or 400 for a target that is not a path. */
  const toYoga = (req: IncomingMessage, res: ServerResponse) => {
    // Origin-form only ("/path?query"): `*` (OPTIONS *) and absolute URLs would make Yoga's URL throw.
    if (req.url?.charCodeAt(0) !== SLASH) return refuse(res, 400, new BadRequestError('The request target must be a path, such as /graphql.'));
    setAnswerHeaders(res);
    yoga(req, res);
  };

  /** Decides each request, before any hook runs: refused here, the fast path, or Yoga. */
  const listener: RequestListener = (req, res) => {
    const host = req.headers.host;
    if (host !== lastValidHost) {
      if (host !== undefined && !URL.canParse(`http://${host}`)) return refuse(res, 400, new BadRequestError('The Host header is not a valid host name.'));
      lastValidHost = host;
    }
    const declared = declaredContentLength(req.headers['content-length']);
    // A chunked body may send up to MAX_BODY_BYTES; one larger than that is refused with 413, unread.
    const bodyBytes = declared ?? (req.headers['transfer-encoding'] === undefined ? 0 : options.maxBodyBytes);
    if (bodyBytes > SMALL_BODY_BYTES && bodyBytes <= options.maxBodyBytes && !bodies.admit(req, bodyBytes)) {
      // The connection stays open: node reads what the client still sends and drops it, unbuffered
      // (REQUEST_TIMEOUT_MS bounds how long), so the client gets this answer rather than a reset.
      return refuse(res, 503, new ServerBusyError('The server is receiving too many large request bodies at once (MAX_BODY_BYTES_IN_FLIGHT); nothing was run. Try again shortly.'), {
        retryAfterSeconds: 1,
      });
    }
    if (!options.fastPath || req.method !== 'POST' || req.url !== endpoint || !isJson(req.headers['content-type'])) {
      return toYoga(req, res);
    }
    // Chunked bodies, and declared lengths that are invalid or too large, get Yoga's answers (413,
    // 400); so does an empty one, which Yoga's adapter could not be handed ready-read (it takes an
    // empty req.body for none, and would wait for the spent stream).
    if (declared === undefined || !(declared > 0) || declared > options.maxBodyBytes) return toYoga(req, res);
    const mediaType = negotiateJsonMediaType(req.headers.accept);
    if (mediaType === undefined) return toYoga(req, res);
    readBody(req, declared, (body) => serve(req, res, body, mediaType));
  };
  return Object.defineProperty(listener, 'fastPathAnswers', { get: () => fastPathAnswers }) as AppRequestListener;
}

const SLASH = 0x2f;

const isJson = (type: string | undefined) => type === 'application/json' || (type !== undefined && /^application\/json\s*;/i.test(type));

type Result = Awaited<ReturnType<Yoga['getResultForParams']>>;

/** Writes the answer: Yoga's serialisation of the result, in one write. */
async function writeResult(req: IncomingMessage, res: ServerResponse, result: Result, mediaType: JsonMediaType, fetchAPI: Yoga['fetchAPI']) {
  // A stream cannot come from a plain query or mutation (subscriptions take Yoga's path, and
  // @defer/@stream are not enabled); processRegularResult answers one with 406, as Yoga would.
  const response = processRegularResult(result as Parameters<typeof processRegularResult>[0], fetchAPI, mediaType);
  if (res.destroyed || res.writableEnded) return;
  // The request id and CORS headers first, in this writeHead: set before it, they would send every
  // header through node's slow merge (answer-headers.ts).
  const headers = answerHeadersOf(req)?.slice() ?? [];
  response.headers.forEach((value, name) => void headers.push(name, value));
  const body = await response.text();
  // One writeHead and one end: node:http sends the head and the body in a single write.
  res.writeHead(response.status, response.statusText, headers);
  res.end(body);
}
