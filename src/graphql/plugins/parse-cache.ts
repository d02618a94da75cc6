import type { DocumentNode, Token } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/**
 * The parsed documents, by query text, bounded in bytes: what the server keeps of every text a
 * client has sent. It stands in for Yoga's own parser cache (turned off in app.ts), which keeps its
 * last 1,024 documents whatever their size: 1,024 distinct texts of 900 KB kept about 3 GB (issue
 * 11), and its cache of syntax errors was keyed by texts as large.
 *
 * What else the server keeps per document is keyed weakly by the DocumentNode (validation results,
 * costs, compiled functions): it lives as long as the document does here. Whoever keeps something
 * large for a document charges its size to the document's entry (`charge`), so that the bound
 * covers all of it: graphql-jit's compiled functions are ten times larger than the document.
 */
export type ParseCache = {
  get(text: string): DocumentNode | undefined;
  set(text: string, document: DocumentNode): void;
  /** Counts `bytes` more against the document's entry, if it is cached; may evict it or others. */
  charge(document: DocumentNode, bytes: number): void;
  /** The estimated bytes held, for tests and diagnostics. */
  readonly bytes: number;
};

/**
 * What a parsed document holds, estimated from measurements of graphql-js 16 on Node 20: its text
 * (the cache's key, which the AST's `loc.source` shares) and a string value or two copied out of it,
 * and per token a Token object, and for most tokens a node and its Location: under 500 bytes
 * (10,000 fields took 510 bytes each, two tokens; 5,000 string values 280 bytes each).
 */
const BYTES_PER_CHARACTER = 2;
const BYTES_PER_TOKEN = 500;

type Entry = { document: DocumentNode; bytes: number };

export function createParseCache(maxBytes: number): ParseCache {
  const entries = new LRUCache<string, Entry>({ maxSize: maxBytes, sizeCalculation: (entry) => entry.bytes });
  const keys = new WeakMap<DocumentNode, string>();
  return {
    get: (text) => entries.get(text)?.document,
    set(text, document) {
      keys.set(document, text);
      entries.set(text, { document, bytes: Math.ceil(BYTES_PER_CHARACTER * text.length + BYTES_PER_TOKEN * tokenCount(document, text)) });
    },
    charge(document, bytes) {
      const text = keys.get(document);
      const entry = text === undefined ? undefined : entries.peek(text);
      // A new entry object: lru-cache recomputes the size only when the value changes.
      if (entry?.document === document) entries.set(text!, { document, bytes: entry.bytes + Math.ceil(bytes) });
    },
    get bytes() {
      return entries.calculatedSize;
    },
  };
}

/** The document's tokens, counted along the lexer's list; without locations, a bound from the length. */
function tokenCount(document: DocumentNode, text: string): number {
  const first = document.loc?.startToken;
  if (!first) return text.length / 2;
  let count = 0;
  for (let token: Token | null = first; token; token = token.next) count += 1;
  return count;
}

/** Parses each query text once while the cache keeps it; syntax errors are not kept. */
export function useParseCache(cache: ParseCache): Plugin {
  return {
    onParse({ params: { source }, setParsedDocument }) {
      const text = typeof source === 'string' ? source : source.body;
      const cached = cache.get(text);
      if (cached) return void setParsedDocument(cached);
      return ({ result }) => {
        if (result && !(result instanceof Error)) cache.set(text, result);
      };
    },
  };
}
