/**
 * How many objects a list field returns, declared on the field for the cost limit
 * (src/graphql/limits/cost-limit.ts): `extensions: sizedBy('ids')` reads the length of `ids` (a
 * list) or the value of `last` (an Int), literal or variable, its default when left out. Declared
 * beside the argument it names, so that renaming one shows the other; and the cost limit refuses to
 * start on a schema whose list of objects declares no size or names an argument it does not have.
 */
export type ListSize = { argument: string };

export const sizedBy = (argument: string): { listSize: ListSize } => ({ listSize: { argument } });

/** The size declared on a field's extensions, if any. */
export const listSizeOf = (extensions: Readonly<Record<string, unknown>> | null | undefined): ListSize | undefined =>
  extensions?.listSize as ListSize | undefined;
