import type { IncomingMessage } from 'node:http';

/**
 * Cross-site request forgery: any web page can make its visitor's browser POST a plain HTML form,
 * or a `fetch` with one of the "simple" content types, to this server, cookies included and with no
 * preflight, so CORS does not stop it. Such a request is refused before anything runs (the same
 * rule as Apollo Server's and Yoga's CSRF prevention): a GraphQL POST must say its body is JSON
 * (application/json, application/graphql-response+json), which a page cannot send cross-origin
 * without a preflight. GET runs queries only (Yoga refuses mutations over GET), so it stays open.
 */
export function isFormLikePost(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const type = req.headers['content-type'];
  // Without a content type there is no body a page could have meant as a form, and nothing to run.
  if (type === undefined || type === 'application/json') return false;
  const essence = type.split(';', 1)[0]!.trim().toLowerCase();
  return SIMPLE_CONTENT_TYPES.has(essence);
}

/** The content types that a form, or a fetch without a preflight, may send (the Fetch standard's CORS-safelisted ones). */
const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
