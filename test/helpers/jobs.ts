import type { SseEvent } from './sse.js';

export const submit = 'mutation ($items: [TransferInput!]!, $key: String) { submitTransfers(items: $items, idempotencyKey: $key) { id status total done failed } }';
export const progress = 'subscription ($id: ID!) { jobProgress(id: $id) { id status total done failed finishedAt } }';

export type TransferItem = { fromId: string; toId: string; amount: number };

/** `count` random transfers among accounts 1..accounts (never from an account to itself). */
export function randomItems(count: number, accounts: number, maxAmount = 200): TransferItem[] {
  return Array.from({ length: count }, () => {
    const from = 1 + Math.floor(Math.random() * accounts);
    const to = 1 + ((from + Math.floor(Math.random() * (accounts - 1))) % accounts);
    return { fromId: String(from), toId: String(to), amount: 1 + Math.floor(Math.random() * maxAmount) };
  });
}

/** The job in the last `next` event of a jobProgress stream. */
export const lastJob = (events: SseEvent[]) => events.filter((event) => event.event === 'next').at(-1)?.data?.data?.jobProgress;
