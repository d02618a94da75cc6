import type { GraphQLBody } from './graphql.js';

export type SseEvent = { event: string; data: GraphQLBody | null; at: number };

/**
 * Subscribes over GraphQL over Server-Sent Events (Yoga's built-in "distinct connections" mode) and
 * collects every event until the server completes the stream. Aborting `signal` leaves, as a
 * client that closes the connection: the promise then rejects.
 */
export async function subscribe(
  fetchFn: (url: string, init: RequestInit) => Promise<Response> | Response,
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  onEvent?: (event: SseEvent) => void,
  signal?: AbortSignal,
): Promise<SseEvent[]> {
  const response = await fetchFn(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  if (!response.body) throw new Error(`no body (status ${response.status})`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      if (!event) continue; // a keep-alive comment
      const data = /^data: (.*)$/m.exec(block)?.[1];
      const parsed: SseEvent = { event, data: data ? (JSON.parse(data) as GraphQLBody) : null, at: performance.now() };
      events.push(parsed);
      onEvent?.(parsed);
      if (event === 'complete') return events;
    }
  }
  return events;
}
