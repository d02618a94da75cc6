// The fastest peer the issue names: Fastify 5 + Mercurius with graphql-jit (`jit: 1`), serving the
// repository's own schema.graphql on a copy of the same SQLite data, batching the Mercurius way
// (its `loaders`, which coalesce per request like DataLoader: one SQL statement per batch).
// Resolvers exist only for what the bench asks; they answer the same bytes as our server.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import mercurius, { type IResolvers, type MercuriusLoaders } from 'mercurius';

type AccountRow = { id: number; name: string; balance: number };
type TransferRow = { id: number; from_id: number; to_id: number; amount: number; created_at: string };
type LoaderQuery<Parent, Params = Record<string, never>> = { obj: Parent; params: Params };

const db = new Database(process.env.DB_FILE ?? 'data/server.sqlite');

// better-sqlite3 statements are reusable; an IN list of n ids is its own statement, prepared once.
const statements = new Map<string, Database.Statement>();
const prepared = (sql: string) => {
  let statement = statements.get(sql);
  if (!statement) statements.set(sql, (statement = db.prepare(sql)));
  return statement;
};
const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(', ');

// As src/db/ids.ts: an id that cannot name a row ("abc", "01") names no account, it is no error.
const parseId = (id: string): number | null => (/^[1-9]\d{0,9}$/.test(id) && Number(id) <= 2_147_483_647 ? Number(id) : null);

/** One SELECT for every id; the rows in the order of `ids`, null where there is none. */
function findAccounts(ids: readonly (number | null)[]): (AccountRow | null)[] {
  const known = [...new Set(ids.filter((id): id is number => id !== null))];
  const rows = known.length === 0 ? [] : (prepared(`SELECT id, name, balance FROM accounts WHERE id IN (${placeholders(known.length)})`).all(...known) as AccountRow[]);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => (id === null ? null : (byId.get(id) ?? null)));
}

/** The same statement as src/db/accounts.ts findRecentTransfersForAccounts: newest out and in, per account. */
function findRecentTransfers(accountIds: readonly number[], last: number): (TransferRow & { account_id: number })[] {
  const sql = `
    SELECT a.id AS account_id, t.id, t.from_id, t.to_id, t.amount, t.created_at
    FROM accounts a
    JOIN transfers t ON t.id IN (
      SELECT outgoing.id FROM (SELECT id FROM transfers WHERE from_id = a.id ORDER BY id DESC LIMIT ?) outgoing
      UNION ALL
      SELECT incoming.id FROM (SELECT id FROM transfers WHERE to_id = a.id ORDER BY id DESC LIMIT ?) incoming
    )
    WHERE a.id IN (${placeholders(accountIds.length)})
    ORDER BY a.id, t.id DESC`;
  return prepared(sql).all(last, last, ...accountIds) as (TransferRow & { account_id: number })[];
}

const resolvers: IResolvers = {
  Query: {
    hello: (_: unknown, { name, delayMs }: { name: string; delayMs: number }) =>
      delayMs > 0 ? sleep(delayMs, `Hello, ${name}`) : `Hello, ${name}`,
    accounts: (_: unknown, { ids }: { ids: string[] }) => findAccounts(ids.map(parseId)),
  },
  // Stored as ISO-8601 text already; present so the SDL's scalar has an implementation.
  DateTime: { serialize: (value: unknown) => (value instanceof Date ? value.toISOString() : String(value)) },
};

const loaders: MercuriusLoaders = {
  Account: {
    transfers: async (queries: LoaderQuery<AccountRow, { last: number }>[]) => {
      const last = Math.max(...queries.map((query) => query.params.last));
      const byAccount = new Map<number, TransferRow[]>();
      for (const { account_id: accountId, ...transfer } of findRecentTransfers([...new Set(queries.map((query) => query.obj.id))], last)) {
        const list = byAccount.get(accountId);
        if (list) list.push(transfer);
        else byAccount.set(accountId, [transfer]);
      }
      return queries.map(({ obj, params }) => (byAccount.get(obj.id) ?? []).slice(0, params.last));
    },
  },
  Transfer: {
    from: async (queries: LoaderQuery<TransferRow>[]) => findAccounts(queries.map((query) => query.obj.from_id)),
    to: async (queries: LoaderQuery<TransferRow>[]) => findAccounts(queries.map((query) => query.obj.to_id)),
  },
};

const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
await app.register(mercurius, {
  schema: readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'),
  resolvers,
  loaders,
  jit: 1,
  graphiql: false,
});

const port = Number(process.env.PORT ?? 4000);
await app.listen({ port, host: '127.0.0.1' });
console.log(`Mercurius + graphql-jit on http://127.0.0.1:${port}/graphql`);
