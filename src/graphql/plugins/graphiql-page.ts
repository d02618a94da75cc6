import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Plugin } from 'graphql-yoga';

type Encoding = 'br' | 'gzip' | 'identity';

/** One encoding of the page: its bytes, shared by every response, and its entity tag. */
type Representation = { body: Buffer; etag: string };
type Page = Record<Encoding, Representation>;

/**
 * Serves GraphiQL on GET /graphql to browsers (an Accept header with text/html), in place of Yoga's
 * own `graphiql` option, which renders the page again for every such request: 9 MB of HTML made
 * into a new string and a new Buffer each time, so a hundred concurrent page loads, or a few
 * hundred clients that never read, took gigabytes.
 *
 * Here the page is rendered once, on the first visit (the renderer is large: it is loaded only
 * then), and compressed once with gzip and brotli on libuv's thread pool, so the event loop is not
 * held. Every later response writes one of these three Buffers, the same object for every client
 * (node queues a reference, not a copy, for a client that reads slowly). The encoding is chosen from
 * Accept-Encoding (Vary says so to caches); each has its own ETag, and a browser that already
 * has the page gets 304 with no body. Cache-Control: no-cache lets it keep the page but asks it to
 * check the ETag first, so a new version of the server is seen at once.
 */
export function useGraphiQLPage(render: () => Promise<string>): Plugin {
  let endpoint = '/graphql';
  let page: Promise<Page> | undefined;
  const loadPage = () => {
    page ??= createPage(render).catch((error: unknown) => {
      page = undefined; // The next visit tries again.
      throw error;
    });
    return page;
  };
  return {
    onYogaInit({ yoga }) {
      endpoint = yoga.graphqlEndpoint;
    },
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' || !request.headers.get('accept')?.includes('text/html')) return;
      if (url.pathname !== endpoint && url.pathname !== `${endpoint}/`) return;
      return loadPage().then(
        (rendered) => endResponse(respond(rendered, request.headers, fetchAPI.Response)),
        // Thrown from here, the error would reach @whatwg-node's handler, which answers with its stack.
        () => endResponse(new fetchAPI.Response('GraphiQL is unavailable.', { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' } })),
      );
    },
  };
}

async function createPage(render: () => Promise<string>): Promise<Page> {
  const html = Buffer.from(await render());
  const [br, gzipped] = await Promise.all([
    promisify(brotliCompress)(html, {
      // Quality 5: 1.9 MB in 0.3 s; quality 11 saves 12 % more and takes 14 s of a pool thread.
      params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: html.length, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT },
    }),
    promisify(gzip)(html),
  ]);
  // One hash of the page names all three: they are the same content, differently encoded.
  const hash = createHash('sha256').update(html).digest('base64url').slice(0, 22);
  return {
    br: { body: br, etag: `"${hash}-br"` },
    gzip: { body: gzipped, etag: `"${hash}-gzip"` },
    identity: { body: html, etag: `"${hash}"` },
  };
}

function respond(page: Page, requestHeaders: Headers, Response: typeof globalThis.Response): Response {
  const encoding = chooseEncoding(requestHeaders.get('accept-encoding'));
  const { body, etag } = page[encoding];
  const headers: Record<string, string> = { etag, 'cache-control': 'no-cache', vary: 'Accept-Encoding' };
  if (matchesETag(requestHeaders.get('if-none-match'), etag)) return new Response(null, { status: 304, headers });
  headers['content-type'] = 'text/html; charset=utf-8';
  headers['content-length'] = String(body.length);
  if (encoding !== 'identity') headers['content-encoding'] = encoding;
  // A Buffer is a Uint8Array, which the Fetch API takes (@types/node's BodyInit does not list Buffer).
  return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers });
}

/** brotli, then gzip, whichever the client accepts (a q of 0 refuses it); else the page as is. */
function chooseEncoding(acceptEncoding: string | null): Encoding {
  if (!acceptEncoding) return 'identity';
  const accepted = new Map<string, number>();
  for (const entry of acceptEncoding.toLowerCase().split(',')) {
    const [coding = '', ...params] = entry.split(';').map((part) => part.trim());
    const q = params.find((param) => param.startsWith('q='));
    accepted.set(coding, q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  const acceptable = (coding: string) => (accepted.get(coding) ?? accepted.get('*') ?? 0) > 0;
  if (acceptable('br')) return 'br';
  if (acceptable('gzip')) return 'gzip';
  return 'identity';
}

/** If-None-Match: `*`, or a list of tags, weak ones (W/) compared by their value (RFC 9110, 13.1.2). */
function matchesETag(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value === etag || value === `W/${etag}`;
  });
}
