import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { BadRequestError } from './errors.js';

/**
 * Makes every failure of Yoga's request parsers a client error that quotes nothing of the request.
 * Those failures are the client's: a body or a query string that cannot be read. Unhandled:
 * - a POST body that is not JSON is answered `POST body sent invalid JSON.` with, in
 *   `extensions.originalError`, JSON.parse's own message, which quotes the body (a 900 KB body
 *   came back whole). It is rebuilt with the same message, code and status, and an originalError
 *   that says only where the JSON broke. (Yoga reads the presence of originalError to answer it
 *   400 rather than 200 under Accept: application/json, so it is kept.)
 * - `variables` or `extensions` in a query string that are not JSON (SyntaxError), and
 *   percent-encoding that does not decode (URIError), were unexpected errors: 500, and a stack in
 *   the log for each request. They are 400 BAD_REQUEST here.
 * Only requests that take Yoga's path are parsed here: the fast path hands anything it cannot
 * read to Yoga.
 */
export function useRequestParseErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      const parse = requestParser;
      setRequestParser(async (request) => {
        try {
          return await parse(request);
        } catch (error) {
          throw asClientError(error);
        }
      });
    },
  };
}

function asClientError(error: unknown): unknown {
  if (error instanceof GraphQLError) return withoutQuotedBody(error);
  if (error instanceof SyntaxError) return new BadRequestError('The variables or extensions parameter is not valid JSON.');
  if (error instanceof URIError) return new BadRequestError('The query string is not valid percent-encoding.');
  return error;
}

function withoutQuotedBody(error: GraphQLError): GraphQLError {
  const original = error.extensions.originalError as { name?: unknown; message?: unknown } | undefined;
  if (typeof original?.message !== 'string') return error;
  // V8's message: `Unexpected token 'x', "{"query":…" is not valid JSON`, or `… in JSON at position 37 (line 1 column 38)`.
  const where = /at position \d+(?: \(line \d+ column \d+\))?/.exec(original.message)?.[0];
  return new GraphQLError(error.message, {
    extensions: { ...error.extensions, originalError: { name: original.name, message: where ? `The body is not valid JSON ${where}.` : 'The body is not valid JSON.' } },
  });
}
