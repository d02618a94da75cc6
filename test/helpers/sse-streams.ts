import { Agent, request, type ClientRequest } from 'node:http';
import { deferred } from '../../src/deferred.js';

/** What one stream has received so far; parsed only when asked, so that thousands stay cheap to hold. */
export type StreamState = {
  /** `next` events received. */
  events: number;
  /** Whether the server sent `event: complete` and ended the response. */
  completed: boolean;
  /** Whether the response ended, completed or not, or the connection failed. */
  ended: boolean;
  /** The `data` of the last `next` event, parsed. */
  last(): { data?: Record<string, any>; errors?: { extensions?: { code?: string } }[] } | undefined;
};

export type StreamPool = {
  streams: StreamState[];
  /** Resolves once every stream has received at least `count` `next` events (or ended). */
  eachReceived(count: number): Promise<void>;
  /** Resolves once every response has ended (completed by the server or not) or failed. */
  allEnded(): Promise<void>;
  /** Closes every stream still open, as clients that leave. */
  close(): void;
};

/**
 * Opens `count` GraphQL-over-SSE subscriptions with node:http, one connection each, the way many
 * clients would: lighter than fetch when there are thousands. The bytes are only counted and kept
 * as they come; a stream's last event is parsed when a test asks for it.
 */
export function openStreams(url: string, count: number, query: string, variables: Record<string, unknown>): StreamPool {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const body = JSON.stringify({ query, variables });
  const requests: ClientRequest[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const check of [...waiters]) check();
  };

  const streams = Array.from({ length: count }, (): StreamState => {
    let tail = '';
    const state: StreamState = {
      events: 0,
      completed: false,
      ended: false,
      last() {
        const data = /event: next\ndata: (.*)\n\n(?![\s\S]*event: next)/.exec(tail)?.[1];
        return data ? JSON.parse(data) : undefined;
      },
    };
    const req = request(`${url}/graphql`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': Buffer.byteLength(body) },
    });
    requests.push(req);
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        // Keep the end only: enough for the last event, whatever the length of the stream.
        tail = (tail + chunk).slice(-20_000);
        const events = chunk.split('event: next\n').length - 1;
        if (events > 0) state.events += events;
        if (chunk.includes('event: complete\n')) state.completed = true;
        if (events > 0 || state.completed) notify();
      });
      res.on('end', () => {
        state.ended = true;
        notify();
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => {
      state.ended = true;
      notify();
    });
    req.end(body);
    return state;
  });

  const until = (condition: () => boolean) => {
    const done = deferred();
    const check = () => {
      if (!condition()) return;
      waiters.delete(check);
      done.resolve();
    };
    waiters.add(check);
    check();
    return done.promise;
  };
  return {
    streams,
    eachReceived: (events) => until(() => streams.every((stream) => stream.events >= events || stream.ended)),
    allEnded: () => until(() => streams.every((stream) => stream.ended)),
    close() {
      for (const req of requests) req.destroy();
      agent.destroy();
    },
  };
}
