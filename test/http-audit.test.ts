import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases } from './helpers/databases.js';
import { createTestApp, type TestApp } from './helpers/graphql.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';

// graphql-http's audits of the GraphQL-over-HTTP spec. Every audit must pass, SHOULD and MAY
// included: in process, as graphql-yoga runs them against itself, and over real HTTP, where the
// common requests take the server's fast path (src/http/request-listener.ts).
type Audit = ReturnType<typeof serverAudits>[number];
const cases = (audits: Audit[]) => audits.map((audit) => [audit.name, audit] as const);

async function expectAuditPasses(audit: Audit) {
  const result = await audit.fn();
  expect(result, result.status === 'ok' ? undefined : result.reason).toMatchObject({ status: 'ok' });
}

describe('GraphQL over HTTP compliance, in process', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!);
  });
  afterAll(() => app.dispose());

  const audits = serverAudits({
    url: 'http://yoga/graphql',
    fetchFn: (input: RequestInfo | URL, init?: RequestInit) => app.yoga.fetch(new Request(input, init)),
  });
  it.each(cases(audits))('%s', (_, audit) => expectAuditPasses(audit));
});

describe('GraphQL over HTTP compliance, over HTTP', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(databases[0]!);
  });
  afterAll(() => served.close());

  const audits = serverAudits({ url: () => `${served.server.url}/graphql`, fetchFn: fetch });
  it.each(cases(audits))('%s', (_, audit) => expectAuditPasses(audit));

  it('sent most of those requests through the fast path', () => {
    expect(served.app.requestListener.fastPathAnswers).toBeGreaterThan(10);
  });
});
