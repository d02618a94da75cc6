import { types } from 'node:util';
import type { ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Hands the request's abort signal to graphql-js (Yoga's executor, @graphql-tools/executor), which
 * checks it before every field: an operation whose client has gone stops. It takes the place of
 * Yoga's useExecutionCancellation, which reads the signal for every operation.
 *
 * The signal is read only when graphql-js runs: the hand-off is a wrapper around the engine, and
 * useJitCompilation, which must come after this plugin, replaces the engine for compiled operations,
 * wrapper included (graphql-jit does not check a signal between fields). Not touching the signal
 * otherwise pays: the HTTP fast path makes a request's AbortController only when something reads
 * its signal, and in Node 20 making one costs about as much as the rest of a `{ hello }`
 * (docs/performance.md). Every resolver that waits (hello's timer, the locks) listens to
 * `context.request.signal` itself, so cancellation holds on either engine where it matters.
 *
 * The signal is made native first: the request signal of Yoga's Node adapter is a Proxy
 * (createCustomAbortControllerSignal in @whatwg-node/server) whose every property read runs a
 * string search, three reads per field.
 */
export function useCancellation(): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) => {
        passSignal(args);
        return executeFn(args);
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
