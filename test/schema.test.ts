import { readFileSync } from 'node:fs';
import { buildClientSchema, getIntrospectionQuery, isInputObjectType, isInterfaceType, isObjectType, lexicographicSortSchema, printSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema/index.js';
import { printSchemaSdl } from '../src/graphql/schema/print.js';
import { databases } from './helpers/databases.js';
import { graphqlRequest } from './helpers/graphql.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';

const committed = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');

describe('schema.graphql', () => {
  it('matches the Pothos code (run `npm run schema` after changing the schema)', () => {
    expect(printSchemaSdl()).toBe(committed);
  });

  it('describes every type, field and argument for GraphiQL users', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('introspection over HTTP', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(databases[0]!);
  });
  afterAll(() => served.close());

  it('serves the schema of schema.graphql', async () => {
    const { status, body } = await graphqlRequest(fetch, `${served.server.url}/graphql`, getIntrospectionQuery({ descriptions: true }));
    expect(status).toBe(200);
    const introspected = buildClientSchema(body.data as IntrospectionQuery);
    expect(`${printSchema(lexicographicSortSchema(introspected))}\n`).toBe(committed);
  });
});
