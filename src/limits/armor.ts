import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../config.js';
import { QueryTooComplexError } from '../errors.js';

/**
 * graphql-armor's structural limits, with their rejections turned into QUERY_TOO_COMPLEX errors.
 * Armor reports "Syntax Error: Query depth limit of 12 exceeded, found 13."; we keep its message
 * (which names the limit) without the misleading "Syntax Error" prefix.
 *
 * Depth, aliases and directives are validation rules: a rejection is reported as a validation
 * error, which the GraphQL-over-HTTP spec answers with 400 (for application/graphql-response+json).
 * Tokens are counted while parsing, so an oversized document is refused before it is fully built.
 */
export function useArmorLimits(limits: LimitsConfig): Plugin[] {
  const report = (limit: string) => ({
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        const rejection = new QueryTooComplexError(error.message.replace(/^Syntax Error: /, ''), limit);
        // The token limit runs in the parser, where there is no validation context: throwing stops the parse.
        if (!context) throw rejection;
        context.reportError(rejection);
      },
    ],
  });
  return [
    maxTokensPlugin({ n: limits.maxTokens, ...report('maxTokens') }),
    // Introspection (GraphiQL, code generators) nests deeper than any real query: exempt it.
    maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, ...report('maxDepth') }),
    maxAliasesPlugin({ n: limits.maxAliases, ...report('maxAliases') }),
    maxDirectivesPlugin({ n: limits.maxDirectives, ...report('maxDirectives') }),
  ];
}
