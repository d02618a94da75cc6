import type { DocumentNode, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Remembers each document's validation result, keyed by the parsed document (the parse cache,
 * parse-cache.ts, hands back the same DocumentNode for the same text). It stands in for Yoga's own
 * validation cache, turned off in app.ts, which keys its cache by the names of all the validation
 * rules, rebuilt on every request: 29 `Function.name` reads and a join, about 6 % of the CPU of a
 * `{ hello }` (docs/performance.md).
 *
 * Keyed weakly: a result lives as long as the parse cache, bounded in bytes, keeps its document. A
 * result is at most 101 errors (graphql-js stops validating at 100), small beside the document.
 *
 * The document alone is the right key here because the rules are the same for every request: the
 * specified rules plus the armor limits', fixed at start (src/graphql/limits/armor.ts). A plugin that added
 * a rule for some requests only would need the rules in the key. Nothing that depends on a
 * request's variables may be decided in validation: see src/graphql/limits/cost-limit.ts.
 */
export function useValidationCache(): Plugin {
  const results = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  return {
    onValidate({ params: { documentAST }, setResult }) {
      const cached = results.get(documentAST);
      if (cached) return void setResult(cached as GraphQLError[]);
      return ({ result }) => void results.set(documentAST, result as readonly GraphQLError[]);
    },
  };
}
