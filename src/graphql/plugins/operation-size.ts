import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

export type OperationSize = {
  /** Field nodes once every fragment spread is written out in place, as graphql-jit's compiler expands them. */
  fields: number;
  /** Whether `__schema` or `__type` is selected anywhere, fragments included. */
  introspection: boolean;
};

/**
 * The size of an operation with its fragments expanded: what compiling it would cost. graphql-jit
 * expands every spread where it stands (its augmentFieldNodeTree), so a fragment spread a hundred
 * times in a fragment spread a hundred times is compiled ten thousand times. The count here walks
 * each fragment once and multiplies: linear in the document, however large the expansion (which
 * can pass Number.MAX_SAFE_INTEGER; it then only needs to compare as large).
 */
export function operationSize(document: DocumentNode, operation: OperationDefinitionNode): OperationSize {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  // Per fragment, its expanded size; null while it is being walked (a cycle, refused by validation).
  const sizes = new Map<string, OperationSize | null>();

  const sizeOf = (selectionSet: SelectionSetNode): OperationSize => {
    let fields = 0;
    let introspection = false;
    const add = (inner: OperationSize) => {
      fields += inner.fields;
      introspection ||= inner.introspection;
    };
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        fields += 1;
        introspection ||= selection.name.value === '__schema' || selection.name.value === '__type';
        if (selection.selectionSet) add(sizeOf(selection.selectionSet));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        add(sizeOf(selection.selectionSet));
      } else {
        const name = selection.name.value;
        if (!sizes.has(name)) {
          const fragment = fragments.get(name);
          sizes.set(name, null);
          if (fragment) sizes.set(name, sizeOf(fragment.selectionSet));
        }
        const inner = sizes.get(name);
        if (inner) add(inner);
      }
    }
    return { fields, introspection };
  };
  return sizeOf(operation.selectionSet);
}
