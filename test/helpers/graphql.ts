import { createApp, type App, type AppOptions } from '../../src/app.js';
import { DEFAULT_MAX_RESPONSE_BYTES, defaultDocuments, defaultHttp, defaultLimits, defaultObservability, defaultQueue, defaultSubscriptions, defaultTrustedDocuments, defaultWebSocket, type Config, type DatabaseConfig } from '../../src/config.js';
import type { TestDatabase } from './databases.js';

export type GraphQLBody = {
  data?: Record<string, any> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
};

export function testConfig(database: DatabaseConfig, overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    database,
    maxBodyBytes: 1_000_000,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    http: defaultHttp,
    httpFastPath: true,
    lockTimeoutMs: 10_000,
    shutdownTimeoutMs: 10_000,
    limits: defaultLimits,
    documents: defaultDocuments,
    // No workers unless a test asks: idle workers poll, and their statements would muddle the counts.
    queue: { ...defaultQueue, concurrency: 0 },
    subscriptions: defaultSubscriptions,
    observability: defaultObservability,
    websocket: defaultWebSocket,
    trustedDocuments: defaultTrustedDocuments,
    auth: undefined,
    graphiqlSubscriptions: 'ws',
    ...overrides,
  };
}

export type TestApp = App & {
  /** The database this app runs on, for a second app on the same data. */
  database: DatabaseConfig;
  /** SQL statements run since the last `resetStatements()`. */
  statements: string[];
  resetStatements(): void;
  /** POSTs `{ query, variables }` to /graphql in process, the way a client would. */
  request(query: string, variables?: Record<string, unknown>, init?: { headers?: Record<string, string>; signal?: AbortSignal }): Promise<{ status: number; body: GraphQLBody }>;
  dispose(): Promise<void>;
};

/** An app on a fresh database, with statement counting; `dispose` closes it and drops the database. */
export async function createTestApp(
  database: TestDatabase,
  { config: overrides, ...options }: AppOptions & { config?: Partial<Config> } = {},
): Promise<TestApp> {
  const { config, drop } = await database.create();
  const statements: string[] = [];
  const app = await createApp(testConfig(config, overrides), { logging: false, onQuery: (sql) => statements.push(sql), ...options });
  return Object.assign(app, {
    database: config,
    statements,
    resetStatements: () => void statements.splice(0),
    request: (query: string, variables?: Record<string, unknown>, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}) =>
      graphqlRequest(app.yoga.fetch.bind(app.yoga), 'http://yoga/graphql', query, variables, init),
    async dispose() {
      await app.close();
      await drop();
    },
  });
}

type FetchFn = (url: string, init: RequestInit) => Promise<Response> | Response;

/** POSTs an operation and parses the body; works with `yoga.fetch` and with the global `fetch`. */
export async function graphqlRequest(
  fetchFn: FetchFn,
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  { headers, signal }: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ status: number; body: GraphQLBody }> {
  const response = await fetchFn(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  return { status: response.status, body: (await response.json()) as GraphQLBody };
}

/** The error codes of a response, in order. */
export const errorCodes = (body: GraphQLBody): unknown[] => (body.errors ?? []).map((error) => error.extensions?.code);
