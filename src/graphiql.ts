import type { GraphiQLOptions } from 'graphql-yoga';

// The tabs a new visitor of /graphql sees: one per technique, each runnable as is.

const delay = `# 1. A non-blocking delay.
# Each greeting waits 1.5 s on a timer. The three run concurrently, so the
# answer comes after about 1.5 s, not 4.5 s, and other requests are served
# meanwhile. Close the tab mid-wait and the server cancels the timers.
query NonBlockingDelay {
  english: hello(name: "World", delayMs: 1500)
  french: hello(name: "le monde", delayMs: 1500)
  german: hello(name: "Welt", delayMs: 1500)
}
`;

const batching = `# 2. Fan-out and batching.
# Every account lookup in this operation, the list, the aliased fields and
# the nested from/to of the transfers, is coalesced by a per-request
# DataLoader: one SQL statement for the accounts, one for all the transfers.
query FanOutAndBatching {
  accounts(ids: ["1", "2", "3", "404404"]) {
    id
    name
    balance
    transfers(last: 3) {
      amount
      from { name }
      to { name }
    }
  }
  alice: account(id: "1") { name }
  bob: account(id: "2") { name }
}
`;

const mutex = `# 3. A mutex.
# increment reads, waits workMs inside the critical section, then writes.
# Run it from several tabs at once: no increment is lost. transfer locks both
# accounts in a fixed order and writes debit, credit and record in one
# transaction: it never overdraws and never deadlocks.
mutation GuardedByLocks {
  increment(name: "visits", by: 1, workMs: 200) { name value }
  transfer(fromId: "1", toId: "2", amount: 10) {
    id
    amount
    createdAt
    from { name balance }
    to { name balance }
  }
}
`;

export const graphiqlOptions: GraphiQLOptions = {
  title: 'Async techniques over GraphQL',
  defaultQuery: delay,
  defaultTabs: [{ query: delay }, { query: batching }, { query: mutex }],
};
