import type { GraphQLParams } from 'graphql-yoga';

/**
 * The GraphQL parameters of a JSON body, when they are of the plain shape Yoga's own checks
 * (useCheckGraphQLQueryParams) accept without a word: an object with a string `query`, and
 * `variables`, `operationName` and `extensions` absent, null or of the right type, nothing else.
 * Anything else is `undefined`, and the caller hands the request to Yoga, whose answer (an error,
 * or batching) is then the one the client gets.
 *
 * A trusted document's `documentId` (a string, in place of `query`) is plain too: Yoga's onParams
 * hooks, which the fast path runs, turn it into its text (src/graphql/plugins/trusted-documents.ts).
 *
 * A query that mentions `subscription` anywhere is also left to Yoga: its result is a stream,
 * which Yoga answers over SSE or multipart. The test is on the text, so it can be wrong only the
 * safe way (a query whose text merely contains the word takes the general path).
 */
export function readGraphQLParams(body: Buffer): GraphQLParams | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isPlainObject(value)) return undefined;
  for (const key in value) if (!PARAM_KEYS.has(key)) return undefined;
  const { query, variables, operationName, extensions, documentId } = value;
  if (documentId != null ? typeof documentId !== 'string' || query != null : typeof query !== 'string' || query.includes('subscription')) return undefined;
  if (variables != null && !isPlainObject(variables)) return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  if (extensions != null && !isPlainObject(extensions)) return undefined;
  return value as GraphQLParams;
}

const PARAM_KEYS = new Set(['query', 'variables', 'operationName', 'extensions', 'documentId']);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
