import { readFileSync } from 'node:fs';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { ConfigError } from '../../config.js';
import { PersistedQueryNotFoundError, PersistedQueryOnlyError } from '../errors.js';

/**
 * The documents clients may run by id: graphql-codegen's client preset writes them, with
 * `persistedDocuments: true`, to persisted-documents.json as `{ "<hash>": "<document>" }`, and
 * its clients send the hash as `documentId` (the GraphQL-over-HTTP persisted-documents appendix,
 * which writes SHA-256 ids `sha256:<hex>`; both spellings are accepted) or, as Apollo Client's
 * persisted-query link does, as `extensions.persistedQuery.sha256Hash`.
 *
 * Each document is parsed, validated and compiled (graphql-jit) once, at start, through the same
 * plugins as any request (limits included; `compile`); one that does not pass stops the server. A
 * request by id then skips parsing and validation, and runs compiled from the first time. The set
 * is fixed by the file: no client can add to it (this is not automatic persisted queries, whose
 * store clients fill).
 */
export type TrustedDocuments = {
  /** The parameters to run: a trusted document's text in place of its id; throws for an unknown id, or any text when `only`. */
  resolve<P extends TrustedParams>(params: P): P;
  /** The document parsed at start, for a trusted text; undefined for any other. */
  parsed(text: string): DocumentNode | undefined;
  /** Whether `document` is one of the trusted ones, validated at start. */
  isTrusted(document: DocumentNode): boolean;
  /**
   * Parses and validates every document with `enveloped`'s plugins, then hands it to `compiled`
   * (graphql-jit's compilation, at start); throws ConfigError naming the first that fails.
   */
  compile(
    enveloped: () => { parse(text: string): DocumentNode; validate(schema: GraphQLSchema, document: DocumentNode): readonly Error[]; schema: GraphQLSchema },
    compiled?: (schema: GraphQLSchema, document: DocumentNode) => void,
  ): void;
  readonly size: number;
};

/** What a request may carry: Yoga's parameters plus the appendix's documentId (graphql-ws payloads have the same shape). */
export type TrustedParams = Partial<GraphQLParams> & { documentId?: unknown };

const SHA256_PREFIX = 'sha256:';
const normalise = (id: string) => (id.startsWith(SHA256_PREFIX) ? id.slice(SHA256_PREFIX.length) : id).toLowerCase();

/** Reads the file; throws ConfigError when it is missing or not `{ id: document }`. */
export function readTrustedDocuments(path: string, only: boolean): TrustedDocuments {
  let entries: [string, unknown][];
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('it is not a JSON object');
    entries = Object.entries(value);
  } catch (error) {
    throw new ConfigError(`TRUSTED_DOCUMENTS (${path}) must be a JSON object of { "<hash>": "<document>" }: ${(error as Error).message}.`);
  }
  const texts = new Map<string, string>();
  for (const [id, text] of entries) {
    if (typeof text !== 'string' || text.trim() === '') throw new ConfigError(`TRUSTED_DOCUMENTS (${path}): the document of "${id}" is not a GraphQL document string.`);
    texts.set(normalise(id), text);
  }
  return createTrustedDocuments(texts, only, path);
}

function createTrustedDocuments(texts: ReadonlyMap<string, string>, only: boolean, path: string): TrustedDocuments {
  const byText = new Map<string, DocumentNode>();
  const trusted = new WeakSet<DocumentNode>();
  return {
    resolve(params) {
      const id = params.documentId ?? (params.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
      if (id === undefined || id === null) {
        if (only) throw new PersistedQueryOnlyError();
        return params;
      }
      const text = typeof id === 'string' ? texts.get(normalise(id)) : undefined;
      if (text === undefined) throw new PersistedQueryNotFoundError();
      // The id names the document; a text sent with it (Apollo sends one on a retry) is not run.
      const { documentId: _, ...rest } = params;
      return { ...rest, query: text } as typeof params;
    },
    parsed: (text) => byText.get(text),
    isTrusted: (document) => trusted.has(document),
    compile(enveloped, compiled) {
      for (const [id, text] of texts) {
        const { parse, validate, schema } = enveloped();
        let document: DocumentNode;
        let errors: readonly Error[];
        try {
          document = parse(text);
          errors = validate(schema, document);
        } catch (error) {
          errors = [error as Error];
        }
        if (errors.length > 0) throw new ConfigError(`TRUSTED_DOCUMENTS (${path}): the document "${id}" does not run on this schema: ${errors[0]!.message}`);
        byText.set(text, document!);
        trusted.add(document!);
        compiled?.(schema, document!);
      }
    },
    get size() {
      return texts.size;
    },
  };
}

/**
 * Puts the trusted documents in Yoga's pipeline: ids become texts in onParams (before Yoga checks
 * that there is a query), and a trusted text gets its document parsed and validated at start.
 * The HTTP fast path runs onParams too; graphql-ws, which does not, calls `resolve` itself (src/ws/).
 */
export function useTrustedDocuments(documents: TrustedDocuments): Plugin {
  return {
    onParams({ params, setParams }) {
      const resolved = documents.resolve(params as TrustedParams);
      if (resolved !== params) setParams(resolved as GraphQLParams);
    },
    onParse({ params: { source }, setParsedDocument }) {
      const document = documents.parsed(typeof source === 'string' ? source : source.body);
      if (document) setParsedDocument(document);
    },
    onValidate({ params: { documentAST }, setResult }) {
      if (documents.isTrusted(documentAST)) setResult([]);
    },
  };
}
