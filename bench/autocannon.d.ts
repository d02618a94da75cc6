// autocannon 8 ships no types and there is no @types package we may install: this declares the
// part of its API the bench uses (see node_modules/autocannon/README.md), nothing more.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export type RequestParams = {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  };

  export type RequestSpec = RequestParams & {
    /** Called before every request of a connection; returns the request to send (a falsy value restarts the sequence). */
    setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams;
    /** Called with every response's status and whole body, just before the instance's `response` event. */
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, unknown>) => void;
  };

  export type Options = RequestParams & {
    url: string;
    connections?: number;
    /** Seconds; ignored when `amount` is set. */
    duration?: number;
    /** Total requests: each connection stops after its share, once its last response has arrived. */
    amount?: number;
    /** Seconds a request may wait for its response before it counts as a timeout (an error). */
    timeout?: number;
    pipelining?: number;
    requests?: RequestSpec[];
  };

  export type Histogram = { average: number; p50: number; p99: number; min: number; max: number; total: number };

  export type Result = {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    latency: Histogram;
    requests: Histogram & { sent: number };
    statusCodeStats: Record<string, { count: number }>;
  };

  /** The running load test. `response` carries (client, statusCode, resBytes, responseTimeMs). */
  export interface Instance extends EventEmitter {
    stop(): void;
  }

  type Callback = (error: Error | null, result: Result) => void;

  function autocannon(options: Options, callback: Callback): Instance;

  export default autocannon;
}
