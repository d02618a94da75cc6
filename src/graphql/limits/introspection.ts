import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * INTROSPECTION=false: `__schema` and `__type` are refused in validation with graphql-js's own rule
 * (GRAPHQL_VALIDATION_FAILED, "GraphQL introspection has been disabled…"); `__typename` still works.
 * The rule is added to every validation, so the validation cache, keyed by the document alone
 * (src/graphql/plugins/validation-cache.ts), stays right: the rules are the same for every request.
 */
export function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
