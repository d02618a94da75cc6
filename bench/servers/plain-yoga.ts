// What a user writes in twenty lines: Yoga with an SDL schema, one SELECT per account id and no
// DataLoader. The baseline our server's extra machinery (Pothos, limits, DataLoader, Kysely) must beat.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { createSchema, createYoga } from 'graphql-yoga';

const db = new Database(process.env.DB_FILE ?? 'data/server.sqlite');
const accountById = db.prepare('SELECT id, name, balance FROM accounts WHERE id = ?');

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query {
      hello(name: String! = "World", delayMs: Int! = 1000): String!
      accounts(ids: [ID!]!): [Account]!
    }
    type Account { id: ID! name: String! balance: Int! }
  `,
  resolvers: {
    Query: {
      hello: (_: unknown, { name, delayMs }: { name: string; delayMs: number }) =>
        delayMs > 0 ? sleep(delayMs, `Hello, ${name}`) : `Hello, ${name}`,
      accounts: (_: unknown, { ids }: { ids: string[] }) => ids.map((id) => accountById.get(Number(id)) ?? null),
    },
  },
});

const port = Number(process.env.PORT ?? 4000);
createServer(createYoga({ schema, logging: false })).listen(port, '127.0.0.1', () =>
  console.log(`plain Yoga on http://127.0.0.1:${port}/graphql`),
);
