import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isIntrospectionType,
  isListType,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
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
import type { LimitsConfig } from '../../config.js';
import { QueryTooComplexError } from '../errors.js';
import { listSizeOf } from '../schema/list-size.js';
import { introspectionFieldSize } from './introspection-sizes.js';

/**
 * The cost of an operation estimates how many objects it can make the server load or build:
 *
 *   cost = Σ over every field that returns an object or a list of objects:
 *            (the number of objects it returns) × (the number of times it is resolved)
 *
 * Leaves (scalars, enums, `__typename`) cost nothing. A list field returns as many objects as the
 * argument its declaration names says (src/graphql/schema/list-size.ts: `sizedBy('ids')` on
 * `accounts`): the length of a list, the value of an Int, its default when left out. For example
 *
 *   accounts(ids: [100 ids]) { transfers(last: 10) { from { name } to { name } } }
 *   = 100 accounts + 100 × 10 transfers + 100 × 10 × 2 accounts = 3,100
 *
 * and the same with 1,000 ids and last: 100 costs 301,000. A fragment counts every time it is
 * spread, as if its fields were written out there (an overestimate where the executor merges them).
 *
 * Introspection counts too, with the lists of this schema (introspection-sizes.ts), and has a
 * bound of its own, maxIntrospectionCost: a few times what GraphiQL's introspection query costs.
 * Without it, a hundred aliases of `__schema` each asking for every type, field and argument would
 * pass every other limit.
 *
 * The walk memoizes the cost of each fragment: a fragment spread a hundred times in a fragment that
 * is itself spread a hundred times (and so on) is walked once, not a hundred to the power of the
 * levels (issue 11: 2.5 KB of fragments blocked the event loop for seconds). Costs are linear in the
 * number of times a selection is resolved, so a fragment's cost per resolution is all there is to
 * remember.
 *
 * Unlike a purely structural cost, it reads the arguments, variables included, so it is checked for
 * every operation, just before it runs: a walk of the document, without touching the schema's
 * resolvers. Not in validation: Yoga caches a document's validation result, errors included, and a
 * cost that depends on the variables would then refuse every later request of the same text,
 * whatever its variables (a bug this plugin had, caught by test/limits.test.ts).
 */

type Costs = { cost: number; introspectionCost: number };

export function useCostLimit({ maxCost, maxIntrospectionCost }: Pick<LimitsConfig, 'maxCost' | 'maxIntrospectionCost'>): Plugin {
  const checkedSchemas = new WeakSet<GraphQLSchema>();
  // The parse cache hands back the same DocumentNode for the same query text, so the cost of a
  // document whose list sizes are all literals is computed once. Keyed weakly by the document: an
  // entry lives as long as the parse cache (bounded in bytes, src/graphql/plugins/parse-cache.ts) keeps it.
  const staticCosts = new WeakMap<DocumentNode, Map<string | undefined, Costs>>();
  const costsOf = ({ schema, document, operationName, variableValues }: ExecutionArgs): Costs => {
    const name = operationName ?? undefined;
    let costs = staticCosts.get(document)?.get(name);
    if (costs === undefined) {
      const estimate = operationCost(schema, document, name, variableValues ?? {});
      costs = estimate;
      if (!estimate.readVariables) staticCosts.set(document, (staticCosts.get(document) ?? new Map()).set(name, costs));
    }
    return costs;
  };
  const refuseTooCostly = ({ args, setResultAndStopExecution }: { args: ExecutionArgs; setResultAndStopExecution: (result: ExecutionResult) => void }) => {
    const { cost, introspectionCost } = costsOf(args);
    const refusal =
      cost > maxCost
        ? new QueryTooComplexError(`Query cost limit of ${maxCost} exceeded, found ${cost}.`, 'maxCost')
        : introspectionCost > maxIntrospectionCost
          ? new QueryTooComplexError(`Introspection cost limit of ${maxIntrospectionCost} exceeded, found ${introspectionCost}.`, 'maxIntrospectionCost')
          : undefined;
    if (refusal) setResultAndStopExecution({ errors: [refusal] });
  };
  return {
    // A list of objects without a declared size would cost as if it returned one object: refuse
    // to serve such a schema at all, rather than under-count it.
    onSchemaChange({ schema }) {
      if (checkedSchemas.has(schema)) return;
      assertListSizesDeclared(schema);
      checkedSchemas.add(schema);
    },
    onExecute: refuseTooCostly,
    onSubscribe: refuseTooCostly,
  };
}

/**
 * Throws unless every field of the schema that returns a list of objects declares its size
 * (sizedBy), naming one of its own arguments: renaming the argument without the declaration, or
 * adding a list without one, then fails at start, not by counting a thousand objects as one.
 */
export function assertListSizesDeclared(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || !('getFields' in type) || !isCompositeType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      if (!('args' in field) || !isListType(getNullableType(field.type)) || !isCompositeType(getNamedType(field.type))) continue;
      const size = listSizeOf(field.extensions);
      if (!size) throw new Error(`${type.name}.${field.name} returns a list of objects but declares no size for the cost limit: add extensions: sizedBy('<argument>')`);
      if (!field.args.some((arg) => arg.name === size.argument)) throw new Error(`${type.name}.${field.name} declares its size by the argument "${size.argument}", which it does not have`);
    }
  }
}

/**
 * The cost of the operation, the part of it that is introspection, and whether it depended on the
 * variables (else it can be cached). Both costs are rounded up: introspection's lists count the
 * average size of a list of the schema, which need not be whole.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
): Costs & { readVariables: boolean } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  const operations = [];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition);
  }
  const operation = operationName ? operations.find((op) => op.name?.value === operationName) : operations[0];
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return { cost: 0, introspectionCost: 0, readVariables: false };

  const variableDefaults: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue && !(definition.variable.name.value in variables)) {
      variableDefaults[definition.variable.name.value] = literalValue(definition.defaultValue);
    }
  }
  const allVariables = { ...variableDefaults, ...variables };
  const sizes = { readVariables: false };
  // A fragment's cost per resolution of the selection it is spread in; null while it is being
  // walked (a cycle, which validation refuses before anything runs, then costs nothing).
  const fragmentCosts = new Map<string, Costs | null>();

  /** The cost of resolving `selectionSet` once on an object of `parentType`. */
  const costOnce = (selectionSet: SelectionSetNode, parentType: GraphQLCompositeType): Costs => {
    let cost = 0;
    let introspectionCost = 0;
    const add = (inner: Costs, times: number, isIntrospection: boolean) => {
      cost += times * inner.cost;
      introspectionCost += times * (isIntrospection ? inner.cost : inner.introspectionCost);
    };
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = selection.selectionSet && fieldDefinition(schema, parentType, selection.name.value);
        const type = field && getNamedType(field.type);
        if (!field || !type || !isCompositeType(type)) continue;
        const isIntrospection = isIntrospectionType(parentType) || field === SchemaMetaFieldDef || field === TypeMetaFieldDef;
        const objects = isIntrospection
          ? introspectionFieldSize(schema, parentType, field.name)
          : isListType(getNullableType(field.type))
            ? listSize(selection, field, allVariables, sizes)
            : 1;
        // Each object it returns, plus what is selected on each of them.
        add({ cost: 1, introspectionCost: 0 }, objects, isIntrospection);
        add(costOnce(selection.selectionSet!, type), objects, isIntrospection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        add(costOnce(selection.selectionSet, typeCondition(schema, selection.typeCondition?.name.value) ?? parentType), 1, false);
      } else {
        const name = selection.name.value;
        if (!fragmentCosts.has(name)) {
          const fragment = fragments.get(name);
          fragmentCosts.set(name, null);
          if (fragment) fragmentCosts.set(name, costOnce(fragment.selectionSet, typeCondition(schema, fragment.typeCondition.name.value) ?? parentType));
        }
        const inner = fragmentCosts.get(name);
        if (inner) add(inner, 1, false);
      }
    }
    return { cost, introspectionCost };
  };
  const { cost, introspectionCost } = costOnce(operation.selectionSet, rootType);
  return { cost: Math.ceil(cost), introspectionCost: Math.ceil(introspectionCost), readVariables: sizes.readVariables };
}

/** A field of the type, the meta fields `__schema` and `__type` of the query type included. */
function fieldDefinition(schema: GraphQLSchema, parentType: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  if (parentType === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return 'getFields' in parentType ? parentType.getFields()[name] : undefined;
}

function typeCondition(schema: GraphQLSchema, name: string | undefined): GraphQLCompositeType | undefined {
  const type = name === undefined ? undefined : schema.getType(name);
  return type && isCompositeType(type) ? type : undefined;
}

/**
 * The size a list field asks for, by the argument its declaration names: the length of a list, the
 * value of an Int, the argument's default when it is left out (a variable left out or null too).
 */
function listSize(node: FieldNode, field: GraphQLField<unknown, unknown>, variables: Record<string, unknown>, sizes: { readVariables: boolean }): number {
  const name = listSizeOf(field.extensions)?.argument;
  const definition = name === undefined ? undefined : field.args.find((arg) => arg.name === name);
  if (!definition) return 1;
  const argument = node.arguments?.find((arg) => arg.name.value === name);
  if (argument?.value.kind === Kind.VARIABLE) sizes.readVariables = true;
  const given = argument ? (argument.value.kind === Kind.VARIABLE ? variables[argument.value.name.value] : literalValue(argument.value)) : undefined;
  const value = given ?? definition.defaultValue;
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'number' && value >= 0) return value;
  return 1;
}

/** A literal's plain value, enough to size a list: lists keep their length, ints their value. */
function literalValue(node: ValueNode): unknown {
  if (node.kind === Kind.LIST) return node.values;
  if (node.kind === Kind.INT) return Number(node.value);
  return undefined;
}
