import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { sqlite } from './helpers/databases.js';
import { createTestApp, errorCodes, type GraphQLBody } from './helpers/graphql.js';
import { connectWs, wsOperation } from './helpers/graphql-ws.js';
import { serveTestApp } from './helpers/server.js';

const hello = 'query Hello($name: String!) { hello(name: $name) }';
const increment = 'mutation Bump { increment(name: "trusted") { value } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const dir = mkdtempSync(join(tmpdir(), 'trusted-documents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** A persisted-documents.json as graphql-codegen's client preset writes it. */
function documentsFile(documents: string[]): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(Object.fromEntries(documents.map((text) => [sha256(text), text]))));
  return path;
}

const post = async (app: { yoga: { fetch: (url: string, init: RequestInit) => Promise<Response> | Response } }, body: object) => {
  const response = await app.yoga.fetch('http://yoga/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as GraphQLBody };
};

describe('trusted documents', () => {
  it('runs a trusted document by documentId (bare or sha256:) or by Apollo\'s persistedQuery hash, on HTTP and graphql-ws; an unknown id runs nothing', async () => {
    const { app, server, close } = await serveTestApp(sqlite, { config: { trustedDocuments: { path: documentsFile([hello, increment]), only: false } } });
    const client = connectWs(server.url);
    try {
      const variables = { name: 'id' };
      for (const body of [
        { documentId: sha256(hello), variables },
        { documentId: `sha256:${sha256(hello)}`, variables },
        { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(hello) } }, variables },
      ]) {
        expect(await post(app, body)).toEqual({ status: 200, body: { data: { hello: 'Hello, id' } } });
        // Over real HTTP, where the fast path answers (it runs Yoga's onParams hooks).
        const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(await response.json()).toEqual({ data: { hello: 'Hello, id' } });
        expect(await wsOperation(client, { query: '', ...body })).toEqual([{ data: { hello: 'Hello, id' } }]);
      }
      expect(app.requestListener.fastPathAnswers).toBeGreaterThanOrEqual(2);

      const unknown = await post(app, { documentId: sha256('{ hello }') });
      expect(unknown.status).toBe(400);
      expect(errorCodes(unknown.body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect((await wsOperation(client, { query: '', documentId: 'nope' })).flatMap(errorCodes)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      // Not only-mode: any other text still runs.
      expect((await post(app, { query: '{ hello }' })).body).toEqual({ data: { hello: 'Hello, World' } });
    } finally {
      await client.dispose();
      await close();
    }
  });

  it('with TRUSTED_DOCUMENTS_ONLY refuses any other text with PERSISTED_QUERY_ONLY on HTTP and graphql-ws, and runs nothing', async () => {
    const { app, server, close } = await serveTestApp(sqlite, { config: { trustedDocuments: { path: documentsFile([hello, increment]), only: true } } });
    const client = connectWs(server.url);
    try {
      const refused = await post(app, { query: 'mutation { increment(name: "trusted") { value } }' });
      expect(refused.status).toBe(400);
      expect(errorCodes(refused.body)).toEqual(['PERSISTED_QUERY_ONLY']);
      const overWs = await wsOperation(client, { query: 'mutation { increment(name: "trusted") { value } }' });
      expect(overWs.flatMap(errorCodes)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect(await post(app, { documentId: sha256(increment) })).toEqual({ status: 200, body: { data: { increment: { value: 1 } } } });
      expect(await wsOperation(client, { query: '', documentId: `sha256:${sha256(increment)}` })).toEqual([{ data: { increment: { value: 2 } } }]);
    } finally {
      await client.dispose();
      await close();
    }
  });

  it('parses, validates and compiles every trusted document once, at start, and never again per request', async () => {
    let validations = 0;
    let parses = 0;
    const app = await createTestApp(sqlite, {
      config: { trustedDocuments: { path: documentsFile([hello]), only: false } },
      // Counts graphql-js's own parse and validate calls, which a cached or trusted document skips.
      plugins: [
        { onValidate: ({ validateFn, setValidationFn }) => setValidationFn((...args: Parameters<typeof validateFn>) => ((validations += 1), validateFn(...args))) },
        { onParse: ({ parseFn, setParseFn }) => setParseFn((...args: Parameters<typeof parseFn>) => ((parses += 1), parseFn(...args))) },
      ],
    });
    try {
      // At start, through the same plugins as a request's; compiled by graphql-jit at once, not after its first runs.
      expect({ parses, validations, compiled: app.documents.compiled }).toEqual({ parses: 1, validations: 1, compiled: 1 });
      parses = validations = 0;
      for (let index = 0; index < 5; index += 1) expect((await post(app, { documentId: sha256(hello), variables: { name: 'x' } })).body).toEqual({ data: { hello: 'Hello, x' } });
      expect({ parses, validations, compiled: app.documents.compiled }).toEqual({ parses: 0, validations: 0, compiled: 1 });
      // A text sent as such is parsed and validated on its first request.
      expect((await post(app, { query: '{ hello }' })).status).toBe(200);
      expect({ parses, validations }).toEqual({ parses: 1, validations: 1 });
    } finally {
      await app.dispose();
    }
  });

  it('stops the start with a clear message when a trusted document does not run on this schema', async () => {
    const bad = documentsFile(['{ nope }']);
    await expect(createTestApp(sqlite, { config: { trustedDocuments: { path: bad, only: true } } })).rejects.toThrow(ConfigError);
    await expect(createTestApp(sqlite, { config: { trustedDocuments: { path: bad, only: true } } })).rejects.toThrow(/does not run on this schema: Cannot query field "nope"/);
    await expect(createTestApp(sqlite, { config: { trustedDocuments: { path: join(dir, 'missing.json'), only: false } } })).rejects.toThrow(/TRUSTED_DOCUMENTS .* must be a JSON object/);
  });
});
