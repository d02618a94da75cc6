import { getIntrospectionQuery, Kind, parse, print, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLimits } from '../src/config.js';
import { databases } from './helpers/databases.js';
import { createTestApp, errorCodes, type TestApp } from './helpers/graphql.js';

// The introspection query GraphiQL 3 and 4 send (Yoga's GraphiQL turns on schemaDescription and
// inputValueDeprecation), and the one code generators send, with every option.
const graphiqlQuery = getIntrospectionQuery({ descriptions: true, schemaDescription: true, inputValueDeprecation: true });
const codegenQuery = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true });

/** An introspection query asked `count` times in one operation, under aliases of `__schema`. */
function copies(query: string, count: number): string {
  const document = parse(query);
  const operation = document.definitions.find((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)!;
  const schemaField = operation.selectionSet.selections[0] as FieldNode;
  const fragments = document.definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION).map((definition) => print(definition));
  const aliases = Array.from({ length: count }, (_, index) => `copy${index}: __schema ${print(schemaField.selectionSet!)}`);
  return `{ ${aliases.join(' ')} } ${fragments.join(' ')}`;
}

describe('introspection', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!);
  });
  afterAll(() => app.dispose());

  it.each([
    ['GraphiQL', graphiqlQuery],
    ['code generators', codegenQuery],
  ])(`answers the introspection query of %s, and three of it in one operation, but refuses four`, async (_client, query) => {
    const { status, body } = await app.request(query);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.__schema.queryType.name).toBe('Query');
    expect(body.data?.__schema.types.map((type: { name: string }) => type.name)).toContain('Account');
    const three = await app.request(copies(query, 3));
    expect(three.body.errors).toBeUndefined();
    expect(Object.keys(three.body.data ?? {})).toHaveLength(3);
    const four = await app.request(copies(query, 4));
    expect(four.status).toBe(400);
    expect(errorCodes(four.body)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(four.body.errors?.[0]?.extensions?.limit).toBe('maxIntrospectionCost');
    expect(four.body.errors?.[0]?.message).toMatch(new RegExp(`^Introspection cost limit of ${defaultLimits.maxIntrospectionCost} exceeded, found \\d+\\.$`));
  });

  it('costs about as many objects as its answer holds', async () => {
    const strict = await createTestApp(databases[0]!, { config: { limits: { ...defaultLimits, maxIntrospectionCost: 1 } } });
    try {
      const cost = Number(/found (\d+)/.exec((await strict.request(graphiqlQuery)).body.errors?.[0]?.message ?? '')?.[1]);
      const { data } = (await app.request(graphiqlQuery)).body;
      let objects = 0;
      const count = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(count);
        else if (value && typeof value === 'object') {
          objects += 1;
          Object.values(value).forEach(count);
        }
      };
      count(data?.__schema);
      expect(cost).toBeGreaterThan(objects * 0.5);
      expect(cost).toBeLessThan(objects * 2);
    } finally {
      await strict.dispose();
    }
  });
});

describe('INTROSPECTION=false', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(databases[0]!, { config: { limits: { ...defaultLimits, introspection: false } } });
  });
  afterAll(() => app.dispose());

  it.each([
    ['__schema', '{ __schema { queryType { name } } }'],
    ['__type', '{ __type(name: "Account") { name } }'],
    [`GraphiQL's query`, graphiqlQuery],
  ])('refuses %s in validation, with a code, and answers __typename', async (_what, query) => {
    const { status, body } = await app.request(query);
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(errorCodes(body)[0]).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors?.[0]?.message).toMatch(/^GraphQL introspection has been disabled/);
    const ordinary = await app.request('{ __typename hello(delayMs: 0) account(id: "1") { __typename id } }');
    expect(ordinary.body).toEqual({ data: { __typename: 'Query', hello: 'Hello, World', account: { __typename: 'Account', id: '1' } } });
  });
});
