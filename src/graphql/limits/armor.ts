import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../../config.js';
import { QueryTooComplexError } from '../errors.js';

/**
 * graphql-armor's structural limits, with their rejections turned into QUERY_TOO_COMPLEX errors.
 * Armor reports "Syntax Error: Query depth limit of 12 exceeded, found 13."; we keep its message
 * (which names the limit) without the misleading "Syntax Error" prefix.
 *
 * Depth, aliases and directives are validation rules: a rejection is reported as a validation
 * error, which the GraphQL-over-HTTP spec answers with 400 (for application/graphql-response+json).
 * Each expands fragment spreads, and each remembers a fragment's count once walked, so a fragment
 * spread a hundred times in a fragment spread a hundred times costs them one walk per fragment.
 * The token and nesting limits are checked while parsing (parse-limits.ts).
 */
export function useArmorLimits(limits: LimitsConfig): Plugin[] {
  const report = (limit: string) => ({
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        context?.reportError(new QueryTooComplexError(error.message.replace(/^Syntax Error: /, ''), limit));
      },
    ],
  });
  return [
    // Introspection nests deeper than any real query (GraphiQL's: 21 levels as armor counts them).
    // Exempt from depth, it is bounded by its cost (cost-limit.ts) and by graphql-js's
    // MaxIntrospectionDepthRule, which refuses lists of types within lists of types within lists.
    maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, ...report('maxDepth') }),
    maxAliasesPlugin({ n: limits.maxAliases, ...report('maxAliases') }),
    maxDirectivesPlugin({ n: limits.maxDirectives, ...report('maxDirectives') }),
  ];
}
