import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { GraphQLBody } from './graphql.js';

export type WsClient = Client & {
  /** Resolves with the close code once the socket closes, however it closes. */
  closed: Promise<number>;
};

/** graphql-ws's own client, with the `ws` package as its WebSocket, at the server's /graphql; no retries, so a refusal is seen. */
export function connectWs(httpUrl: string, connectionParams?: Record<string, unknown>): WsClient {
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  const client = createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    on: { closed: (event) => resolveClosed((event as { code: number }).code) },
  });
  return Object.assign(client, { closed });
}

/**
 * Runs one operation and collects every result until the server completes it. A protocol `error`
 * message resolves as `{ errors }`, as a client shows it; a close of the socket rejects.
 */
export function wsOperation(client: Client, payload: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown>; documentId?: string }, onNext?: (result: GraphQLBody) => void): Promise<GraphQLBody[]> {
  return new Promise((resolve, reject) => {
    const results: GraphQLBody[] = [];
    client.subscribe(payload as { query: string }, {
      next: (result: ExecutionResult) => {
        results.push(result as GraphQLBody);
        onNext?.(result as GraphQLBody);
      },
      error: (error: unknown) => (Array.isArray(error) ? resolve([...results, { errors: error }]) : reject(error)),
      complete: () => resolve(results),
    });
  });
}
