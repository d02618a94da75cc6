import { getIntrospectionQuery } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultDocuments, defaultLimits, type DocumentsConfig } from '../src/config.js';
import { databases } from './helpers/databases.js';
import { fanOut } from './helpers/documents.js';
import { createTestApp, type TestApp } from './helpers/graphql.js';

// graphql-jit compiles what has earned it: an operation seen JIT_AFTER_RUNS times already, of at
// most JIT_MAX_FIELDS fields with its fragments written out, and not introspection. The rest runs on
// graphql-js. `app.documents.compiled` counts the compilations.

describe('compiling with graphql-jit', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.dispose();
    app = undefined;
  });
  const start = async (documents: Partial<DocumentsConfig> = {}) => (app = await createTestApp(databases[0]!, { config: { documents: { ...defaultDocuments, ...documents } } }));
  const hello = (name: string) => `{ hello(name: "${name}", delayMs: 0) }`;

  it('runs a new text on graphql-js and compiles it on its second run, once', async () => {
    const app = await start();
    expect((await app.request(hello('a'))).body.data?.hello).toBe('Hello, a');
    expect(app.documents.compiled).toBe(0);
    for (let run = 0; run < 3; run += 1) expect((await app.request(hello('a'))).body.data?.hello).toBe('Hello, a');
    expect(app.documents.compiled).toBe(1);
  });

  it('compiles nothing for a client that sends a different text with every request', async () => {
    const app = await start();
    for (let run = 0; run < 50; run += 1) expect((await app.request(hello(`client ${run}`))).body.data?.hello).toBe(`Hello, client ${run}`);
    expect(app.documents.compiled).toBe(0);
  });

  it('compiles at first sight with JIT_AFTER_RUNS=0, and after the third run with 3', async () => {
    const eager = await start({ jitAfterRuns: 0 });
    await eager.request(hello('a'));
    expect(eager.documents.compiled).toBe(1);
    await eager.dispose();
    const patient = await start({ jitAfterRuns: 3 });
    for (let run = 0; run < 3; run += 1) await patient.request(hello('a'));
    expect(patient.documents.compiled).toBe(0);
    await patient.request(hello('a'));
    expect(patient.documents.compiled).toBe(1);
  });

  it('never compiles introspection: graphql-js answers it', async () => {
    const app = await start({ jitAfterRuns: 0 });
    const query = getIntrospectionQuery({ descriptions: true, schemaDescription: true, inputValueDeprecation: true });
    for (let run = 0; run < 3; run += 1) expect((await app.request(query)).body.data?.__schema.queryType.name).toBe('Query');
    expect((await app.request('{ __type(name: "Account") { name } }')).body.data?.__type.name).toBe('Account');
    expect(app.documents.compiled).toBe(0);
  });

  it('never compiles an operation of more than JIT_MAX_FIELDS fields once its fragments are written out', async () => {
    // 15 × 15 spreads of `id` under account: 227 fields written out, in 40 tokens of fragments.
    const query = fanOut({ width: 15, levels: 2, type: 'Account', base: 'id', root: (top) => `{ account(id: "1") { ...${top} } }` });
    const small = await start({ jitAfterRuns: 0, jitMaxFields: 200 });
    expect((await small.request(query)).body.data).toEqual({ account: { id: '1' } });
    expect(small.documents.compiled).toBe(0);
    // As many fields written out by hand are bounded the same way: 60 × 4.
    const aliases = `{ ${Array.from({ length: 60 }, (_, index) => `a${index}: account(id: "1") { id name balance }`).join(' ')} }`;
    expect((await small.request(aliases)).body.data?.a59).toEqual({ id: '1', name: expect.any(String), balance: expect.any(Number) });
    expect(small.documents.compiled).toBe(0);
    await small.dispose();
    const large = await start({ jitAfterRuns: 0, jitMaxFields: 300 });
    expect((await large.request(query)).body.data).toEqual({ account: { id: '1' } });
    expect(large.documents.compiled).toBe(1);
  });

  it('counts a compiled function against the parse cache, which holds it', async () => {
    const app = await start();
    const query = `{ accounts(ids: ["1", "2"]) { id name transfers(last: 2) { from { name } to { name } } } }`;
    await app.request(query);
    const parsed = app.documents.cachedBytes;
    await app.request(query);
    expect(app.documents.compiled).toBe(1);
    // 8 fields of about 5 KB each: a compiled function weighs several times its document.
    expect(app.documents.cachedBytes - parsed).toBeGreaterThan(2 * parsed);
  });
});

describe('the parse cache', () => {
  it('holds at most PARSE_CACHE_MAX_BYTES of documents, compiled functions included', async () => {
    const maxBytes = 2_000_000;
    const app = await createTestApp(databases[0]!, {
      // Names of 100,000 characters make the large documents: let them past MAX_STRING_LENGTH.
      config: { documents: { ...defaultDocuments, parseCacheMaxBytes: maxBytes }, limits: { ...defaultLimits, maxStringLength: 200_000 } },
    });
    try {
      // 100 KB each, 20 times the bound together; each sent twice, so that it is compiled too.
      for (let round = 0; round < 200; round += 1) {
        const query = `{ hello(delayMs: 0, name: "${String(round).padEnd(100_000, 'x')}") }`;
        for (let run = 0; run < 2; run += 1) expect((await app.request(query)).status).toBe(200);
        expect(app.documents.cachedBytes).toBeLessThanOrEqual(maxBytes);
      }
      expect(app.documents.cachedBytes).toBeGreaterThan(maxBytes / 2);
    } finally {
      await app.dispose();
    }
  });
});
