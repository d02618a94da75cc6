import { Kind, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLError, type SelectionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { QueryTooComplexError } from '../errors.js';

/**
 * Bounds the work of merging fields, before graphql-js validates a document.
 *
 * Fields that share a response name in a selection set (fragments and inline fragments included)
 * are merged into one before they run, and graphql-js's validation (OverlappingFieldsCanBeMergedRule)
 * first compares them pairwise to check that they can be: the same field, the same arguments, and
 * so on down their selections. `{ account(id: "1") { id } … }` two thousand times is 48 KB, within
 * the token limit, and makes two million pairs; graphql-js gives up after a budget of 500,000
 * comparisons ("Validation aborted."), but only after 0.5 to 1.5 s on this 2-core machine
 * (issue 11), during which the event loop serves nobody. The same holds for hundreds of fragments
 * spread side by side, which it compares pairwise too.
 *
 * So, before validation, this walk merges the document's selection sets as the executor would
 * (fields by response name, each fragment once per selection set, and the merged fields'
 * selections into one) and counts the merges: each field merged into a set, each pair of fields of
 * the same name, each pair of fragments spread into the same set (and each spread of a fragment
 * already merged there, which costs the walk a step). That is at least the comparisons
 * graphql-js makes, and about the document's size for a query written by hand (GraphiQL's
 * introspection query: 484). Above `maxMerges` the document is refused with QUERY_TOO_COMPLEX,
 * and graphql-js never sees it. The walk stops as soon as it passes the bound, so it costs at most
 * that many steps (about a millisecond per 10,000), and its result is kept per document (weakly:
 * the parse cache bounds the documents).
 */
export function useMergeLimit(maxMerges: number): Plugin {
  const refusals = new WeakMap<DocumentNode, readonly GraphQLError[] | null>();
  return {
    onValidate({ params: { documentAST }, setResult }) {
      let refusal = refusals.get(documentAST);
      if (refusal === undefined) {
        const merges = countMerges(documentAST, maxMerges);
        refusal = merges > maxMerges ? [new QueryTooComplexError(`Field merging limit of ${maxMerges} exceeded.`, 'maxFieldMerges')] : null;
        refusals.set(documentAST, refusal);
      }
      if (refusal) setResult(refusal as GraphQLError[]);
    },
  };
}

class Stop extends Error {}

/** The merges of the document's operations and fragments, or a number above `max` once it passes it. */
export function countMerges(document: DocumentNode, max: number): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  // A selection set's selections with repeated spreads of one fragment left out: they merge into one
  // without a comparison, and a fragment spread a hundred times is then walked once per set.
  const distinct = new Map<SelectionSetNode, readonly SelectionNode[]>();
  const distinctSelections = (selectionSet: SelectionSetNode): readonly SelectionNode[] => {
    let selections = distinct.get(selectionSet);
    if (!selections) {
      const names = new Set<string>();
      selections = selectionSet.selections.filter((selection) => selection.kind !== Kind.FRAGMENT_SPREAD || (!names.has(selection.name.value) && names.add(selection.name.value)));
      distinct.set(selectionSet, selections);
    }
    return selections;
  };
  let merges = 0;
  const count = (more: number) => {
    merges += more;
    if (merges > max) throw new Stop();
  };

  // The fragments spread in the sets above the one being merged, with how many times: spreading one
  // of them again would be a cycle (which validation refuses), or a fragment already counted there.
  const enclosing = new Map<string, number>();
  const enter = (names: Iterable<string>, by: 1 | -1) => {
    for (const name of names) enclosing.set(name, (enclosing.get(name) ?? 0) + by);
  };

  /**
   * Merges the selection sets of fields that share a response name into one set, and then the
   * selections of its fields, level by level.
   */
  const merge = (selectionSets: readonly SelectionSetNode[]) => {
    const byResponseName = new Map<string, FieldNode[]>();
    const spread = new Set<string>();
    const collect = (selectionSet: SelectionSetNode) => {
      for (const selection of distinctSelections(selectionSet)) {
        if (selection.kind === Kind.FIELD) {
          const name = selection.alias?.value ?? selection.name.value;
          const same = byResponseName.get(name);
          // This field, and a pair with each field of the same name before it.
          count(1 + (same?.length ?? 0));
          if (same) same.push(selection);
          else byResponseName.set(name, [selection]);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          collect(selection.selectionSet);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || spread.has(name) || (enclosing.get(name) ?? 0) > 0) {
            // Merged already: nothing to compare, but the walk came this way.
            count(1);
            continue;
          }
          // A pair with each fragment spread into this set before it.
          count(1 + spread.size);
          spread.add(name);
          collect(fragment.selectionSet);
        }
      }
    };
    for (const selectionSet of selectionSets) collect(selectionSet);
    enter(spread, 1);
    for (const fields of byResponseName.values()) {
      const selections = fields.flatMap((field) => (field.selectionSet ? [field.selectionSet] : []));
      if (selections.length > 0) merge(selections);
    }
    enter(spread, -1);
  };

  try {
    // Every operation, and every fragment on its own: graphql-js compares within each of them.
    for (const definition of document.definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION) merge([definition.selectionSet]);
      else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        enter([definition.name.value], 1);
        merge([definition.selectionSet]);
        enter([definition.name.value], -1);
      }
    }
  } catch (error) {
    if (error instanceof Stop) return merges;
    throw error;
  }
  return merges;
}
