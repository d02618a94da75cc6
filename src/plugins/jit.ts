import { types } from 'node:util';
import { Kind, typeFromAST, valueFromAST, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

type Compiled = { query: CompiledQuery['query']; defaults: [name: string, value: unknown][] };

/**
 * Runs each operation on the faster engine that can run it, and hands the request's abort signal
 * to the engine that reads it. It takes the place of Yoga's useExecutionCancellation, which reads
 * the signal for every operation.
 *
 * Queries and mutations run on graphql-jit: each document is compiled once into a function
 * (cached per parsed document, which Yoga's parser cache keeps stable) instead of being walked on
 * every request; about a third less CPU for 100 accounts. graphql-jit does not check an abort
 * signal between fields, so it is handed none. Cancellation still holds where it matters: every
 * resolver that waits (hello's timer, the locks) listens to `context.request.signal` itself. Not
 * touching the signal otherwise pays: the HTTP fast path makes a request's AbortController only
 * when something reads its signal, and in Node 20 making one costs about as much as the rest of
 * a `{ hello }` (docs/performance.md).
 *
 * What graphql-jit cannot compile, and subscriptions, run on Yoga's executor
 * (@graphql-tools/executor), which checks `args.signal` before every field. The signal is made
 * native first: the request signal of Yoga's Node adapter is a Proxy
 * (createCustomAbortControllerSignal in @whatwg-node/server) whose every property read runs a
 * string search, three reads per field.
 *
 * graphql-jit 0.8 refuses a non-null variable left out even when the operation gives it a default
 * (`$by: Int! = 1`); the spec says the default applies. So the defaults of left-out variables
 * are filled in before the compiled function coerces them.
 */
export function useJit(): Plugin {
  const cache = new WeakMap<DocumentNode, Map<string | undefined, Compiled | null>>();
  const compile = (args: ExecutionArgs): Compiled | null => {
    const operationName = args.operationName ?? undefined;
    let byOperation = cache.get(args.document);
    if (!byOperation) cache.set(args.document, (byOperation = new Map()));
    if (!byOperation.has(operationName)) byOperation.set(operationName, compileOnce(args.schema, args.document, operationName));
    return byOperation.get(operationName) ?? null;
  };
  return {
    onExecute({ args, setExecuteFn }) {
      const compiled = compile(args);
      if (!compiled) return void passSignal(args);
      setExecuteFn((execution) => {
        const variables = { ...(execution.variableValues ?? {}) };
        for (const [name, value] of compiled.defaults) if (variables[name] === undefined) variables[name] = value;
        return compiled.query(execution.rootValue, execution.contextValue, variables);
      });
    },
    onSubscribe({ args }) {
      passSignal(args);
    },
  };
}

function passSignal(args: ExecutionArgs): void {
  const signal = (args.contextValue as { request?: Request } | undefined)?.request?.signal;
  if (signal) (args as ExecutionArgs & { signal?: AbortSignal }).signal = types.isProxy(signal) ? nativeSignal(signal) : signal;
}

function nativeSignal(source: AbortSignal): AbortSignal {
  if (source.aborted) return AbortSignal.abort(source.reason);
  const controller = new AbortController();
  source.addEventListener('abort', () => controller.abort(source.reason), { once: true });
  return controller.signal;
}

function compileOnce(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): Compiled | null {
  const operation = document.definitions.find(
    (definition) => definition.kind === Kind.OPERATION_DEFINITION && (operationName === undefined || definition.name?.value === operationName),
  );
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION || operation.operation === 'subscription') return null;
  const compiled = compileQuery(schema, document, operationName);
  if (!isCompiledQuery(compiled)) return null;
  const defaults: Compiled['defaults'] = [];
  for (const definition of operation.variableDefinitions ?? []) {
    if (!definition.defaultValue) continue;
    const type = typeFromAST(schema, definition.type);
    if (type) defaults.push([definition.variable.name.value, valueFromAST(definition.defaultValue, type as Parameters<typeof valueFromAST>[1])]);
  }
  return { query: compiled.query, defaults };
}
