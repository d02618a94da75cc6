import {
  isAbstractType,
  isWrappingType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  type GraphQLCompositeType,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';

/**
 * How many objects an introspection field returns, for the cost limit: what the schema holds, so
 * that an introspection query costs about as many objects as its answer holds.
 *
 * - `__Schema.types` and `.directives`: the schema's counts.
 * - A list of a `__Type` (`fields`, `interfaces`, `possibleTypes`, `enumValues`, `inputFields`):
 *   the average over every type (a scalar has no fields: it counts as a type with none).
 * - `__Field.args`, `__Directive.args`: the average over every field, every directive.
 * - `__Type.ofType`: the share of types met in the schema's fields and arguments that are wrappers
 *   (`[ID!]!` is three wrappers around ID): a chain of `ofType { ofType { … } }`, nine deep in
 *   GraphiQL's query, costs what the wrappers really are, not nine objects per type.
 * - Any other object field: one object.
 *
 * Walking the schema along the query for every request would be exact, and cost as much as
 * answering it; the averages are computed once per schema.
 */
export function introspectionFieldSize(schema: GraphQLSchema, parentType: GraphQLCompositeType, field: string): number {
  let sizes = sizesBySchema.get(schema);
  if (!sizes) sizesBySchema.set(schema, (sizes = measure(schema)));
  return sizes.get(`${parentType.name}.${field}`) ?? 1;
}

const sizesBySchema = new WeakMap<GraphQLSchema, Map<string, number>>();

function measure(schema: GraphQLSchema): Map<string, number> {
  const types = Object.values(schema.getTypeMap());
  const directives = schema.getDirectives();
  const fields = types.flatMap((type) => (isObjectType(type) || isInterfaceType(type) ? Object.values(type.getFields()) : []));
  const inputFields = types.flatMap((type) => (isInputObjectType(type) ? Object.values(type.getFields()) : []));
  const args = [...fields, ...directives].flatMap((owner) => owner.args);
  const perType = (count: (type: GraphQLNamedType) => number) => sum(types.map(count)) / types.length;
  // Each type reference is a chain of its wrappers, then the named type: all but the last have an ofType.
  const wrappers = [...fields, ...inputFields, ...args].map((typed) => wrapperCount(typed.type));
  return new Map([
    ['__Schema.types', types.length],
    ['__Schema.directives', directives.length],
    ['__Type.fields', perType((type) => (isObjectType(type) || isInterfaceType(type) ? Object.keys(type.getFields()).length : 0))],
    ['__Type.interfaces', perType((type) => (isObjectType(type) || isInterfaceType(type) ? type.getInterfaces().length : 0))],
    ['__Type.possibleTypes', perType((type) => (isAbstractType(type) ? schema.getPossibleTypes(type).length : 0))],
    ['__Type.enumValues', perType((type) => (isEnumType(type) ? type.getValues().length : 0))],
    ['__Type.inputFields', perType((type) => (isInputObjectType(type) ? Object.keys(type.getFields()).length : 0))],
    ['__Type.ofType', wrappers.length === 0 ? 0 : sum(wrappers) / sum(wrappers.map((count) => count + 1))],
    ['__Field.args', fields.length === 0 ? 0 : sum(fields.map((field) => field.args.length)) / fields.length],
    ['__Directive.args', directives.length === 0 ? 0 : sum(directives.map((directive) => directive.args.length)) / directives.length],
  ]);
}

const sum = (counts: number[]) => counts.reduce((total, count) => total + count, 0);

function wrapperCount(type: GraphQLType): number {
  let count = 0;
  for (let inner = type; isWrappingType(inner); inner = inner.ofType) count += 1;
  return count;
}
