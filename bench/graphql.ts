// One-off GraphQL requests for the checks around a load run (validation, seeding, invariants);
// the load itself goes through wrk or autocannon (loadgen.ts).

export const GRAPHQL_PATH = '/graphql';

export const JSON_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
};

export type GraphQLResponse = {
  status: number;
  headers: Headers;
  text: string;
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

/** POSTs a ready-made JSON body to the server's GraphQL endpoint, with `headers` besides JSON_HEADERS. */
export async function postBody(baseUrl: string, body: string, headers?: Record<string, string>): Promise<GraphQLResponse> {
  const response = await fetch(`${baseUrl}${GRAPHQL_PATH}`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...headers },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let parsed: Pick<GraphQLResponse, 'data' | 'errors'> = {};
  try {
    parsed = JSON.parse(text) as Pick<GraphQLResponse, 'data' | 'errors'>;
  } catch {
    // Not JSON: the caller reports `text`.
  }
  return { status: response.status, headers: response.headers, text, data: parsed.data, errors: parsed.errors };
}

export const requestBody = (query: string, variables?: Record<string, unknown>): string =>
  JSON.stringify(variables ? { query, variables } : { query });

/** Runs a query and returns its data, or throws with the status and body when it did not succeed. */
export async function queryData(baseUrl: string, query: string, variables?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await postBody(baseUrl, requestBody(query, variables));
  if (response.status !== 200 || response.errors || !response.data) {
    throw new Error(`query failed with ${response.status}: ${response.text.slice(0, 300)}`);
  }
  return response.data;
}
