import type { ServerResponse } from 'node:http';

const RESPONSE = Symbol('response');
const SIGNAL = Symbol('signal');

type LazySignalRequest = Request & { [RESPONSE]: ServerResponse; [SIGNAL]?: AbortSignal };

/**
 * A Request class (a subclass of Yoga's) whose `signal` is made on its first read, and aborts when
 * the client goes away before it has its answer, as the signal of Yoga's Node adapter does.
 *
 * Why lazily: in Node 20, `new AbortController()` plus its listener cost more CPU and garbage than
 * all the rest of the fast path of a `{ hello }` (docs/performance.md), and most operations never
 * read the signal: only resolvers that wait (hello's timer, the locks), and operations that run on
 * graphql-js rather than graphql-jit (src/graphql/plugins/jit-compilation.ts), do.
 */
export function createLazySignalRequestClass(Base: typeof Request) {
  class Lazy extends Base {
    constructor(url: string, init: RequestInit, response: ServerResponse) {
      super(url, init);
      (this as unknown as LazySignalRequest)[RESPONSE] = response;
    }
  }
  Object.defineProperty(Lazy.prototype, 'signal', {
    get(this: LazySignalRequest): AbortSignal {
      return (this[SIGNAL] ??= signalFor(this[RESPONSE]));
    },
  });
  return Lazy as unknown as new (url: string, init: RequestInit, response: ServerResponse) => Request;
}

function signalFor(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.writableFinished) return controller.signal;
  // The client is already gone: node:http destroyed the socket (and detached it from the response).
  if (response.destroyed || !response.socket || response.socket.destroyed) {
    controller.abort();
    return controller.signal;
  }
  const abort = () => controller.abort();
  response.once('close', abort);
  response.once('finish', () => response.removeListener('close', abort));
  return controller.signal;
}
