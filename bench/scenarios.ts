// What is measured: each scenario's request, load, servers, expected answer and invariants.
import { createHash } from 'node:crypto';
import { queryData, requestBody } from './graphql.js';
import type { LoadResult } from './loadgen.js';
import type { ServerKind } from './targets.js';

export type Check = { name: string; pass: boolean; detail: string };

export type Scenario = {
  name: string;
  /** What the request is, for the table. */
  title: string;
  /** Compared, alternately, in this order in round 1 (rotated in later rounds). */
  servers: readonly ServerKind[];
  connections: number;
  /** Overrides the default warm-up: 1,000 slow connections need a few cycles to settle. */
  warmupS?: number;
  timeoutS: number;
  /** The bare server's stand-in for hello's delay. */
  bareDelayMs?: number;
  body: () => string;
  /** Whether `body` differs from one request to the next. */
  varies: boolean;
  /** Whether `body` must never repeat (a new text per request). */
  unique?: boolean;
  /** Headers besides JSON_HEADERS, with every request. */
  headers?: Record<string, string>;
  /** Our server's settings for this scenario (environment variables); the peers ignore them. */
  oursEnv?: Record<string, string>;
  /** Our server starts with TRUSTED_DOCUMENTS: the file of TRUSTED_DOCUMENTS below, written in the work folder. */
  trustedDocuments?: boolean;
  /** Response headers the validation request must carry, exactly. */
  expectHeaders?: Record<string, string>;
  /** Checks the data of one response, sent before timing; returns the problem, or null. */
  expectData: (data: Record<string, unknown>) => string | null;
  /** Whether INSUFFICIENT_FUNDS is an acceptable outcome rather than an error. */
  businessErrors?: boolean;
  /** A fixed number of requests instead of a duration: see LoadOptions.amount. */
  amount?: (seconds: number) => number;
  /** Instead of a timed load: this many requests at once, one per connection, each awaited and checked (see burst.ts). */
  burst?: number;
  /** Invariants after the run; `successes` counts the validation request too. */
  verify?: (baseUrl: string, load: LoadResult, successes: number) => Promise<Check[]>;
};

export const ids = (count: number) => Array.from({ length: count }, (_, index) => String(index + 1));
const idList = (count: number) => ids(count).map((id) => `"${id}"`).join(', ');
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/** Two different accounts among 1..`accounts`, and 1..10 units. */
export function randomTransfer(accounts: number) {
  const fromId = randomInt(1, accounts);
  const toId = ((fromId - 1 + randomInt(1, accounts - 1)) % accounts) + 1;
  return { fromId: String(fromId), toId: String(toId), amount: randomInt(1, 10) };
}

export const TRANSFER = 'mutation Transfer($fromId: ID!, $toId: ID!, $amount: Int!) { transfer(fromId: $fromId, toId: $toId, amount: $amount) { id amount } }';
export const SEED_ACCOUNTS = 1000;
export const SEED_TOTAL = SEED_ACCOUNTS * 1000;

const isAccountList = (value: unknown, count: number): value is { id: string; name: string; balance: number }[] =>
  Array.isArray(value) && value.length === count;

/** The web app's origin in helloBrowser, allowed by our server's CORS_ORIGINS. */
const APP_ORIGIN = 'http://app.example';

/**
 * What a browser sends with a GraphQL POST from a web app on another origin (Chrome on Linux, a
 * GraphQL client's Accept, the app's cookies): every request from a web app carries these (issue 13).
 */
export const BROWSER_HEADERS: Record<string, string> = {
  origin: APP_ORIGIN,
  referer: `${APP_ORIGIN}/accounts`,
  cookie: 'session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.1.1480235627.1732700000',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  accept: 'application/graphql-response+json,application/json;q=0.9',
  'accept-language': 'en-US,en;q=0.9',
  'accept-encoding': 'gzip, deflate, br, zstd',
  'sec-ch-ua': '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
  'sec-ch-ua-mobile': '?0',
  'sec-ch-ua-platform': '"Linux"',
  'sec-fetch-dest': 'empty',
  'sec-fetch-mode': 'cors',
  'sec-fetch-site': 'cross-site',
};

const NESTED = `{ accounts(ids: [${idList(20)}]) { id name transfers(last: 5) { from { name } to { name } } } }`;
/**
 * An operation whose execution is trivial and whose text is long (5.0 KB, 100 aliases, the most
 * MAX_ALIASES allows): where parsing and validating would dominate, were they not cached.
 */
const LARGE = `query Greetings { ${ids(100).map((id) => `h${id}: hello(name: "account holder ${id}", delayMs: 0)`).join(' ')} }`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** persisted-documents.json as graphql-codegen's client preset writes it (hash → document), for the *ById scenarios. */
export const TRUSTED_DOCUMENTS: Record<string, string> = Object.fromEntries([NESTED, LARGE].map((text) => [sha256(text), text]));
/** A request by id, as the GraphQL-over-HTTP persisted-documents appendix writes it. */
const byId = (text: string) => JSON.stringify({ documentId: `sha256:${sha256(text)}` });

const expectNested: Scenario['expectData'] = ({ accounts }) => {
  if (!isAccountList(accounts, 20)) return 'accounts is not a list of 20';
  const transfers = (accounts as unknown as { transfers: { from: { name: unknown }; to: { name: unknown } }[] }[]).flatMap((a) => a.transfers);
  if (transfers.length === 0) return 'no transfers returned';
  return transfers.every((t) => typeof t.from.name === 'string' && typeof t.to.name === 'string') ? null : 'a transfer lacks from/to names';
};
const expectLarge: Scenario['expectData'] = (data) => {
  const wrong = ids(100).find((id) => data[`h${id}`] !== `Hello, account holder ${id}`);
  return wrong === undefined ? null : `h${wrong} is ${JSON.stringify(data[`h${wrong}`])}`;
};

const helloScenario = (name: string, delayMs: number, connections: number, extra: Partial<Scenario>): Scenario => ({
  name,
  title: `hello(delayMs: ${delayMs}), ${connections} connections`,
  servers: ['ours', 'bare', 'plain-yoga', 'mercurius-jit'],
  connections,
  timeoutS: 10,
  bareDelayMs: delayMs,
  body: () => requestBody(`{ hello(delayMs: ${delayMs}) }`),
  varies: false,
  expectData: (data) => (data.hello === 'Hello, World' ? null : `hello is ${JSON.stringify(data.hello)}`),
  ...extra,
});

export const scenarios: readonly Scenario[] = [
  helloScenario('hello0', 0, 50, {}),
  // Ideal: 1,000 req/s, each answered after 1 s. A few cycles of warm-up let the 1,000 connections open.
  // Plain Yoga sits this one out (no bar compares with it here), to keep the whole bench within 12 minutes.
  helloScenario('hello1000', 1000, 1000, { warmupS: 3, servers: ['ours', 'bare', 'mercurius-jit'] }),
  // 10,000 waits at once: what they cost in memory, and that each one is answered. One core takes
  // ~3 s to accept 10,000 connections, so each waits 10 s (hello's most): every wait overlaps every
  // other, and the table's "peak concurrent waits" shows it. Ours only, for time; add 'bare' for the floor.
  helloScenario('hello10k', 10_000, 10_000, {
    title: '10,000 concurrent hello(delayMs: 10000), one request per connection',
    servers: ['ours'],
    burst: 10_000,
    timeoutS: 40,
  }),
  // Issue 13: each compared, paired by round, with a run of the same request that differs in one
  // thing only; ours only (see report.ts for the ratios).
  helloScenario('helloBrowser', 0, 50, {
    title: 'hello(delayMs: 0) from a browser on an allowed origin (Origin, cookies, browser headers), 50 connections',
    servers: ['ours'],
    headers: BROWSER_HEADERS,
    oursEnv: { CORS_ORIGINS: APP_ORIGIN },
    expectHeaders: { 'access-control-allow-origin': APP_ORIGIN },
  }),
  helloScenario('helloObserved', 0, 50, {
    title: 'hello(delayMs: 0) with METRICS=true LOG_LEVEL=info, 50 connections',
    servers: ['ours'],
    oursEnv: { METRICS: 'true', LOG_LEVEL: 'info' },
  }),
  helloScenario('helloUnobserved', 0, 50, {
    title: 'hello(delayMs: 0) with METRICS=false LOG_LEVEL=silent, 50 connections',
    servers: ['ours'],
    oursEnv: { METRICS: 'false', LOG_LEVEL: 'silent' },
  }),
  // A client that never sends the same text twice (a counter in the query, as naive clients and
  // scanners do): every request is parsed and validated, and ours and Mercurius-jit run it on
  // graphql-js, since graphql-jit compiles only what comes back (issue 11).
  {
    name: 'helloDistinct',
    title: 'a new text per request, { hello(name: "<counter>", delayMs: 0) }, 50 connections',
    servers: ['ours', 'plain-yoga', 'mercurius-jit'],
    connections: 50,
    timeoutS: 10,
    body: (() => {
      let next = 0;
      return () => requestBody(`{ hello(name: "${next++}", delayMs: 0) }`);
    })(),
    varies: true,
    unique: true,
    expectData: (data) => (typeof data.hello === 'string' && /^Hello, \d+$/.test(data.hello) ? null : `hello is ${JSON.stringify(data.hello)}`),
  },
  {
    name: 'accounts100',
    title: 'accounts(100 ids) { id name balance }, 50 connections',
    // The bar is against Mercurius' loaders; plain Yoga (one SELECT per id) left out for time, as in hello1000.
    servers: ['ours', 'mercurius-jit'],
    connections: 50,
    timeoutS: 10,
    body: () => requestBody(`{ accounts(ids: [${idList(100)}]) { id name balance } }`),
    varies: false,
    expectData: ({ accounts }) => {
      if (!isAccountList(accounts, 100)) return 'accounts is not a list of 100';
      const wrong = accounts.findIndex((account, index) => account?.id !== String(index + 1) || typeof account.name !== 'string' || typeof account.balance !== 'number');
      return wrong === -1 ? null : `account #${wrong} is ${JSON.stringify(accounts[wrong])}`;
    },
  },
  {
    name: 'nested',
    title: 'accounts(20 ids) { id name transfers(last: 5) { from { name } to { name } } }, 50 connections',
    // The template database holds the transfers (see template-db.ts): every server reads the same.
    servers: ['ours', 'mercurius-jit'],
    connections: 50,
    timeoutS: 10,
    body: () => requestBody(NESTED),
    varies: false,
    expectData: expectNested,
  },
  // Issue 14: the same operation by id, a trusted document parsed, validated and compiled at
  // start; compared, paired by round, with ours sending the text to a server without the file
  // (nested above, largeText), whose parse and validation caches keep a repeated text too.
  {
    name: 'nestedById',
    title: 'nested by documentId (a trusted document), 50 connections',
    servers: ['ours'],
    connections: 50,
    timeoutS: 10,
    trustedDocuments: true,
    body: () => byId(NESTED),
    varies: false,
    expectData: expectNested,
  },
  {
    name: 'largeText',
    title: 'query Greetings { h1: hello(name: "account holder 1", delayMs: 0) ... h100 } (5.0 KB of text), 50 connections',
    servers: ['ours'],
    connections: 50,
    timeoutS: 10,
    body: () => requestBody(LARGE),
    varies: false,
    expectData: expectLarge,
  },
  {
    name: 'largeById',
    title: 'largeText\'s operation by documentId (a trusted document), 50 connections',
    servers: ['ours'],
    connections: 50,
    timeoutS: 10,
    trustedDocuments: true,
    body: () => byId(LARGE),
    varies: false,
    expectData: expectLarge,
  },
  {
    name: 'increment',
    title: 'increment(name: "bench", workMs: 5), contended, 50 connections',
    servers: ['ours'],
    connections: 50,
    timeoutS: 15,
    body: () => requestBody('mutation { increment(name: "bench", workMs: 5) { value } }'),
    varies: false,
    // The mutex allows at most 1000 / 5 = 200/s: this many requests last at least the planned time.
    amount: (seconds) => Math.ceil(seconds * 200),
    expectData: (data) => (typeof (data.increment as { value?: unknown } | undefined)?.value === 'number' ? null : 'no increment.value'),
    verify: async (baseUrl, _load, successes) => {
      const data = await queryData(baseUrl, '{ counter(name: "bench") { value } }');
      const value = (data.counter as { value: number }).value;
      return [{ name: 'no lost update', pass: value === successes, detail: `counter "bench" = ${value}, successful increments = ${successes}` }];
    },
  },
  {
    name: 'incrementSpread',
    title: 'increment on 1,000 names (workMs: 0), 50 connections',
    servers: ['ours'],
    connections: 50,
    timeoutS: 10,
    body: (() => {
      let next = 0;
      return () => requestBody('mutation Spread($name: String!) { increment(name: $name, workMs: 0) { value } }', { name: `spread-${next++ % 1000}` });
    })(),
    varies: true,
    expectData: (data) => (typeof (data.increment as { value?: unknown } | undefined)?.value === 'number' ? null : 'no increment.value'),
  },
  {
    name: 'transfers',
    title: 'transfer(random from != to among 100, amount 1..10), 50 connections',
    servers: ['ours'],
    connections: 50,
    timeoutS: 10,
    body: () => requestBody(TRANSFER, randomTransfer(100)),
    varies: true,
    businessErrors: true,
    expectData: (data) => (typeof (data.transfer as { amount?: unknown } | undefined)?.amount === 'number' ? null : 'no transfer.amount'),
    verify: async (baseUrl) => {
      const data = await queryData(baseUrl, 'query All($ids: [ID!]!) { accounts(ids: $ids) { balance } }', { ids: ids(SEED_ACCOUNTS) });
      const balances = (data.accounts as { balance: number }[]).map((account) => account.balance);
      const total = balances.reduce((sum, balance) => sum + balance, 0);
      const negative = balances.filter((balance) => balance < 0).length;
      return [
        { name: 'money conserved', pass: total === SEED_TOTAL, detail: `total balance of accounts 1..${SEED_ACCOUNTS} = ${total} (expected ${SEED_TOTAL})` },
        { name: 'no negative balance', pass: negative === 0, detail: `${negative} negative balances` },
      ];
    },
  },
];
