/**
 * The media type Yoga answers a single (non-streamed) result with, for an Accept header, or
 * `undefined` when Yoga would not pick its regular JSON processor for it (406, or SSE/multipart).
 *
 * Mirrors graphql-yoga 5's useResultProcessors + getMediaTypesForRequestInOrder: the header is
 * split on commas, entries whose charset is not utf-8 are dropped, and the processors are tried
 * against the entries from last to first, the last match winning; the JSON processor comes last
 * and offers `application/graphql-response+json` then `application/json`. So for a plain result
 * the first listed entry that matches either wins, and `*​/*` (or no header) means
 * `application/json`. The fast-path comparison test checks this against Yoga itself.
 */
export function negotiateJsonMediaType(accept: string | undefined): JsonMediaType | undefined {
  if (accept === undefined || accept === '' || accept === '*/*' || accept === 'application/json') return 'application/json';
  if (accept === 'application/graphql-response+json') return accept;
  // A client sends the same Accept with every request (a browser's GraphQL client, a longer one):
  // the last one's answer is kept. One entry, so its size is the header's, which node bounds.
  if (accept === lastAccept) return lastChoice;
  lastChoice = negotiate(accept);
  lastAccept = accept;
  return lastChoice;
}

let lastAccept: string | undefined;
let lastChoice: JsonMediaType | undefined;

function negotiate(accept: string): JsonMediaType | undefined {
  let chosen: JsonMediaType | undefined;
  const entries = accept.replace(/\s/g, '').toLowerCase().split(',');
  for (let index = entries.length - 1; index >= 0; index--) {
    const [mediaType = '', ...params] = entries[index]!.split(';');
    const charset = params.find((param) => param.includes('charset=')) ?? 'charset=utf-8';
    if (charset !== 'charset=utf-8') continue;
    for (const offered of JSON_MEDIA_TYPES) if (matches(mediaType, offered)) chosen = offered;
  }
  return chosen;
}

export type JsonMediaType = 'application/graphql-response+json' | 'application/json';
const JSON_MEDIA_TYPES: readonly JsonMediaType[] = ['application/graphql-response+json', 'application/json'];

function matches(asked: string, offered: string): boolean {
  const [askedType, askedSubtype] = asked.split('/');
  const [type, subtype] = offered.split('/');
  return (askedType === '*' || askedType === type) && (askedSubtype === '*' || askedSubtype === subtype);
}
