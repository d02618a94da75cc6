import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases } from './helpers/databases.js';
import { createTestApp, type TestApp } from './helpers/graphql.js';

// graphql-http's audits of the GraphQL-over-HTTP spec, run in process as graphql-yoga runs them
// against itself. Every audit must pass, SHOULD and MAY included.
describe('GraphQL over HTTP compliance', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!);
  });
  afterAll(() => app.dispose());

  const audits = serverAudits({
    url: 'http://yoga/graphql',
    fetchFn: (input: RequestInfo | URL, init?: RequestInit) => app.yoga.fetch(new Request(input, init)),
  });

  it.each(audits.map((audit) => [audit.name, audit] as const))('%s', async (_, audit) => {
    const result = await audit.fn();
    expect(result, result.status === 'ok' ? undefined : result.reason).toMatchObject({ status: 'ok' });
  });
});
