import { Kind, typeFromAST, valueFromAST, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import type { DocumentsConfig } from '../../config.js';
import { operationSize } from './operation-size.js';
import type { ParseCache } from './parse-cache.js';

type Compiled = { query: CompiledQuery['query']; defaults: [name: string, value: unknown][]; fields: number };

/** What is known of one operation of one document: its runs so far, then whether it compiled. */
type Operation = { runs: number; compiled?: Compiled | null };

/**
 * What a compiled function holds, charged to its document in the parse cache: about 5 KB per field
 * (measured: 1 field 6 KB, 70 fields 260 KB, 700 fields 2.5 MB), ten times the parsed document.
 */
const COMPILED_BYTES_PER_FIELD = 5_000;

/**
 * Runs repeated queries and mutations on graphql-jit: each is compiled once into a function (cached
 * per parsed document, which the parse cache keeps stable) instead of being walked on every
 * request; about a third less CPU for 100 accounts. Compiling costs far more than running once
 * (1-3 ms for `{ hello }`, against tens of microseconds), so only what has earned it is compiled:
 * an operation runs `jitAfterRuns` times on graphql-js first, as Mercurius' `jit: N` does. A client
 * sending a different text with every request (issue 11: from 27 to 565 µs of CPU per `{ hello }`)
 * then costs a parse and an interpretation, not a compilation.
 *
 * Never compiled, whatever their runs:
 * - operations of more than `jitMaxFields` fields with their fragments written out in place
 *   (operation-size.ts): graphql-jit expands every spread, so 1 KB of fragments could take it
 *   seconds and hundreds of MB, and its time and memory grow with the fields (0.3 ms, 5 KB each);
 * - introspection (`__schema`, `__type`): graphql-js answers GraphiQL's query in about a millisecond,
 *   the compiled introspection of issue 11 took 850 ms and kept 150 MB;
 * - subscriptions.
 *
 * The runs and the compiled functions are kept per document, weakly: they live as long as the parse
 * cache keeps the document, and a compiled function's size is charged to the document's entry there,
 * so the parse cache's byte bound covers them.
 *
 * A compiled operation replaces the engine that useCancellation (cancellation.ts) wraps, so it must
 * come after it: graphql-jit does not check an abort signal between fields, and is handed none.
 *
 * graphql-jit 0.8 refuses a non-null variable left out even when the operation gives it a default
 * (`$by: Int! = 1`); the spec says the default applies. So the defaults of left-out variables
 * are filled in before the compiled function coerces them.
 */
export function useJitCompilation(
  { jitAfterRuns, jitMaxFields }: Pick<DocumentsConfig, 'jitAfterRuns' | 'jitMaxFields'>,
  parseCache?: ParseCache,
): Plugin & { readonly compiled: number; compileNow(schema: GraphQLSchema, document: DocumentNode): void } {
  let compiledCount = 0;
  const operations = new WeakMap<DocumentNode, Map<string | undefined, Operation>>();
  const compiledFor = (args: ExecutionArgs): Compiled | null => {
    const operationName = args.operationName ?? undefined;
    let byName = operations.get(args.document);
    if (!byName) operations.set(args.document, (byName = new Map()));
    let operation = byName.get(operationName);
    if (!operation) byName.set(operationName, (operation = { runs: 0 }));
    if (operation.compiled !== undefined) return operation.compiled;
    if (operation.runs < jitAfterRuns) {
      operation.runs += 1;
      return null;
    }
    operation.compiled = compileIfWorthIt(args.schema, args.document, operationName, jitMaxFields);
    if (operation.compiled) {
      compiledCount += 1;
      parseCache?.charge(args.document, COMPILED_BYTES_PER_FIELD * (operation.compiled.fields + 1));
    }
    return operation.compiled;
  };
  return {
    /** How many operations have been compiled so far, for tests and diagnostics. */
    get compiled() {
      return compiledCount;
    },
    /**
     * Compiles every operation of `document` now rather than after its runs: for documents known
     * in advance (the trusted documents, at start), which no client can multiply. A lone operation
     * is also found when a request names none.
     */
    compileNow(schema, document) {
      const byName = new Map<string | undefined, Operation>();
      const named = document.definitions.flatMap((definition) => (definition.kind === Kind.OPERATION_DEFINITION ? [definition.name?.value] : []));
      for (const name of named) {
        const operation: Operation = { runs: jitAfterRuns, compiled: compileIfWorthIt(schema, document, name, jitMaxFields) };
        if (operation.compiled) compiledCount += 1;
        byName.set(name, operation);
        if (named.length === 1) byName.set(undefined, operation);
      }
      operations.set(document, byName);
    },
    onExecute({ args, setExecuteFn }) {
      const compiled = compiledFor(args);
      if (!compiled) return;
      setExecuteFn((execution) => {
        const variables = { ...(execution.variableValues ?? {}) };
        for (const [name, value] of compiled.defaults) if (variables[name] === undefined) variables[name] = value;
        return compiled.query(execution.rootValue, execution.contextValue, variables);
      });
    },
  };
}

/** The compiled operation, or null for what is not compiled (see useJitCompilation) or cannot be. */
function compileIfWorthIt(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined, maxFields: number): Compiled | null {
  const operation = document.definitions.find(
    (definition) => definition.kind === Kind.OPERATION_DEFINITION && (operationName === undefined || definition.name?.value === operationName),
  );
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION || operation.operation === 'subscription') return null;
  const size = operationSize(document, operation);
  if (size.introspection || size.fields > maxFields) return null;
  const compiled = compileQuery(schema, document, operationName);
  if (!isCompiledQuery(compiled)) return null;
  const defaults: Compiled['defaults'] = [];
  for (const definition of operation.variableDefinitions ?? []) {
    if (!definition.defaultValue) continue;
    const type = typeFromAST(schema, definition.type);
    if (type) defaults.push([definition.variable.name.value, valueFromAST(definition.defaultValue, type as Parameters<typeof valueFromAST>[1])]);
  }
  return { query: compiled.query, defaults, fields: size.fields };
}
