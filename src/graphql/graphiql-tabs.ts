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

const queue = `# 4. A queue.
# Run SubmitBulkTransfers first: the job is stored and returned at once, and a
# bounded pool of workers applies its items under the same locks as
# transfer. Then run WatchJob with the job's id: progress arrives live over a
# WebSocket (graphql-ws; or Server-Sent Events with GRAPHIQL_SUBSCRIPTIONS=sse),
# ten events a second at most, and the stream completes
# with the final status. Workers are slowed with QUEUE_ITEM_WORK_MS.
mutation SubmitBulkTransfers {
  submitTransfers(
    items: [
      { fromId: "10", toId: "11", amount: 25 }
      { fromId: "11", toId: "12", amount: 25 }
      { fromId: "12", toId: "13", amount: 5000 }
      { fromId: "13", toId: "nobody", amount: 1 }
    ]
  ) {
    id
    status
    total
  }
}

subscription WatchJob {
  jobProgress(id: "1") {
    status
    done
    failed
    total
    finishedAt
    items { index status error { code message } transfer { id } }
  }
}
`;

/** GraphiQL's page: its tabs, and subscriptions over graphql-ws (`ws`) or Server-Sent Events (`sse`), as GRAPHIQL_SUBSCRIPTIONS says. */
export const createGraphiqlOptions = (subscriptions: 'ws' | 'sse'): GraphiQLOptions => ({
  title: 'Async techniques over GraphQL',
  defaultQuery: delay,
  defaultTabs: [{ query: delay }, { query: batching }, { query: mutex }, { query: queue }],
  subscriptionsProtocol: subscriptions === 'ws' ? 'WS' : 'SSE',
});
