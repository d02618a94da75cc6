import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isLeafType,
  isListType,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { QueryTooComplexError } from '../errors.js';

/**
 * The cost of an operation estimates how many objects it can make the server load:
 *
 *   cost = Σ over every field that returns an object or a list of objects:
 *            (the number of objects it returns) × (the number of times it is resolved)
 *
 * Leaves (scalars, enums) and introspection cost nothing. A list field returns as many objects as
 * its size argument says: the length of `ids`, or the value of `last` or `limit` (its default when left out);
 * any other list counts DEFAULT_LIST_SIZE. For example
 *
 *   accounts(ids: [100 ids]) { transfers(last: 10) { from { name } to { name } } }
 *   = 100 accounts + 100 × 10 transfers + 100 × 10 × 2 accounts = 3,100
 *
 * and the same with 1,000 ids and last: 100 costs 301,000. Unlike a purely structural cost, it reads
 * the arguments, variables included, so it is checked for every operation, just before it runs: a
 * walk of the document, without touching the schema's resolvers.
 *
 * Not in validation: Yoga caches a document's validation result, errors included, and a cost that
 * depends on the variables would then refuse every later request of the same text, whatever its
 * variables (a bug this plugin had, caught by test/limits.test.ts).
 */
export const DEFAULT_LIST_SIZE = 10;
const SIZE_ARGUMENTS = ['ids', 'last', 'limit'];

export function useCostLimit(maxCost: number): Plugin {
  // Yoga's parser cache hands back the same DocumentNode for the same query text, so the cost of a
  // document whose list sizes are all literals is computed once.
  const staticCosts = new WeakMap<DocumentNode, Map<string | undefined, number>>();
  const costOf = ({ schema, document, operationName, variableValues }: ExecutionArgs): number => {
    const name = operationName ?? undefined;
    let cost = staticCosts.get(document)?.get(name);
    if (cost === undefined) {
      const estimate = operationCost(schema, document, name, variableValues ?? {});
      cost = estimate.cost;
      if (!estimate.readVariables) staticCosts.set(document, (staticCosts.get(document) ?? new Map()).set(name, cost));
    }
    return cost;
  };
  const refuseTooCostly = ({ args, setResultAndStopExecution }: { args: ExecutionArgs; setResultAndStopExecution: (result: ExecutionResult) => void }) => {
    const cost = costOf(args);
    if (cost > maxCost) setResultAndStopExecution({ errors: [new QueryTooComplexError(`Query cost limit of ${maxCost} exceeded, found ${cost}.`, 'maxCost')] });
  };
  return { onExecute: refuseTooCostly, onSubscribe: refuseTooCostly };
}

/** The cost of the operation, and whether it depended on the variables (else it can be cached). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
): { cost: number; readVariables: boolean } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  const operations = [];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition);
  }
  const operation = operationName ? operations.find((op) => op.name?.value === operationName) : operations[0];
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return { cost: 0, readVariables: false };

  const variableDefaults: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue && !(definition.variable.name.value in variables)) {
      variableDefaults[definition.variable.name.value] = literalValue(definition.defaultValue);
    }
  }
  const allVariables = { ...variableDefaults, ...variables };
  const sizes = { readVariables: false };

  const costOf = (selectionSet: SelectionSetNode, parentType: GraphQLCompositeType, times: number): number => {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__') || !selection.selectionSet || !('getFields' in parentType)) continue;
        const field = parentType.getFields()[selection.name.value];
        if (!field) continue;
        const type = getNamedType(field.type);
        if (isLeafType(type) || !isCompositeType(type)) continue;
        const objects = times * (isListType(getNullableType(field.type)) ? listSize(selection, field, allVariables, sizes) : 1);
        cost += objects + costOf(selection.selectionSet, type, objects);
      } else {
        const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
        if (!fragment) continue;
        const condition = fragment.typeCondition && schema.getType(fragment.typeCondition.name.value);
        cost += costOf(fragment.selectionSet, condition && isCompositeType(condition) ? condition : parentType, times);
      }
    }
    return cost;
  };
  return { cost: costOf(operation.selectionSet, rootType, 1), readVariables: sizes.readVariables };
}

/** The size a list field asks for: the length of `ids` or the value of `last`, else the default. */
function listSize(node: FieldNode, field: GraphQLField<unknown, unknown>, variables: Record<string, unknown>, sizes: { readVariables: boolean }): number {
  for (const name of SIZE_ARGUMENTS) {
    const definition = field.args.find((arg) => arg.name === name);
    if (!definition) continue;
    const argument = node.arguments?.find((arg) => arg.name.value === name);
    if (argument?.value.kind === Kind.VARIABLE) sizes.readVariables = true;
    const given = argument ? (argument.value.kind === Kind.VARIABLE ? variables[argument.value.name.value] : literalValue(argument.value)) : undefined;
    // A variable left out (or null) leaves the argument's default in force.
    const value = given ?? definition.defaultValue;
    if (Array.isArray(value)) return value.length;
    if (typeof value === 'number' && value >= 0) return value;
  }
  return DEFAULT_LIST_SIZE;
}

/** A literal's plain value, enough to size a list: lists keep their length, ints their value. */
function literalValue(node: ValueNode): unknown {
  if (node.kind === Kind.LIST) return node.values;
  if (node.kind === Kind.INT) return Number(node.value);
  return undefined;
}
