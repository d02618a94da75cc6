// One load run with autocannon, in this process (pinned to the load-generator core). Warm-up and
// measurement are one continuous run, so the measured window sees warm connections and a warm
// server; only responses that arrive inside the window count towards throughput and latency.
import { performance } from 'node:perf_hooks';
import autocannon, { type RequestParams } from 'autocannon';
import { GRAPHQL_PATH, JSON_HEADERS } from './graphql.js';
import { percentileOfSorted } from './stats.js';

/** ok: the expected data; business: an error the scenario accepts as an outcome (INSUFFICIENT_FUNDS). */
export type Verdict = 'ok' | 'business' | 'error';

export type LoadOptions = {
  baseUrl: string;
  connections: number;
  warmupS: number;
  measureS: number;
  /** Seconds before a request counts as a timeout. */
  timeoutS: number;
  /** The request body; called again for every request when `varies` is set. */
  body: () => string;
  varies: boolean;
  classify: (body: string) => Verdict;
  /**
   * Send exactly this many requests, then stop once each connection has its last answer: no request
   * is cut off mid-flight, so the server's state can be compared with the responses counted.
   */
  amount?: number;
  /** Called when the measured window opens and when it closes (or the run ends inside it). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
};

export type LoadResult = {
  /** Successful (2xx, non-error) responses per second in the measured window. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses inside the measured window. */
  measured: number;
  /**
   * The slowest first response of a connection. It includes the TCP handshake, which under a burst
   * of new connections can wait for SYN retransmits (1 s, 3 s) when the listen queue overflows; it
   * is left out of p50/p99, which describe requests on established connections.
   */
  firstResponseMaxMs: number;
  /** Over the whole run, warm-up included: */
  ok: number;
  business: number;
  graphqlErrors: number;
  non2xx: number;
  /** Connection errors and timeouts, as autocannon counts them. */
  transportErrors: number;
  timeouts: number;
  /** A few bodies of failed responses, for the report. */
  errorSamples: string[];
  /** The latencies behind p50/p99, ascending: lets two concurrent runs (one per replica) be merged. */
  latenciesMs: number[];
  /** Only for a burst (see burst.ts). */
  burst?: BurstFigures;
};

export type BurstFigures = {
  requests: number;
  /** Answered with the expected data. */
  answered: number;
  /** From the first request sent to the last one sent. */
  sendMs: number;
  /** The most requests sent and not yet answered at one time. */
  peakInFlight: number;
  /** The most answers whose `delayMs` waits overlapped: an estimate of the waits the server held at once. */
  peakConcurrentWaits: number;
  maxMs: number;
};

type ConnectionWindow = { first: number; last: number; count: number };

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const counts = { ok: 0, business: 0, graphqlErrors: 0, non2xx: 0 };
  const errorSamples: string[] = [];
  // onResponse sees the body, the instance's 'response' event that follows it synchronously sees
  // the connection and latency: this carries the verdict from the one to the other.
  let lastVerdict: Verdict = 'error';
  let lastStatusOk = false;

  const onResponse = (status: number, body: string) => {
    lastStatusOk = status >= 200 && status < 300;
    lastVerdict = lastStatusOk ? options.classify(body) : 'error';
    if (!lastStatusOk) counts.non2xx += 1;
    else if (lastVerdict === 'ok') counts.ok += 1;
    else if (lastVerdict === 'business') counts.business += 1;
    else counts.graphqlErrors += 1;
    if (lastVerdict === 'error' && errorSamples.length < 3) errorSamples.push(`${status} ${body.slice(0, 300)}`);
  };

  const request = {
    method: 'POST',
    path: GRAPHQL_PATH,
    headers: JSON_HEADERS,
    body: options.body(),
    onResponse,
    ...(options.varies ? { setupRequest: (params: RequestParams) => ({ ...params, body: options.body() }) } : {}),
  };

  const start = performance.now();
  const windowStart = start + options.warmupS * 1000;
  const windowEnd = windowStart + options.measureS * 1000;
  const perConnection = new Map<object, ConnectionWindow>();
  const latencies: number[] = [];
  const answered = new WeakSet<object>();
  let firstResponseMaxMs = 0;
  let measuredGood = 0;
  let measuredAll = 0;

  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.baseUrl}${GRAPHQL_PATH}`,
        connections: options.connections,
        duration: options.warmupS + options.measureS,
        timeout: options.timeoutS,
        pipelining: 1,
        requests: [request],
        ...(options.amount ? { amount: options.amount } : {}),
      },
      (error, result) => {
        clearTimeout(safety);
        announcer.finish();
        if (error) return reject(error);
        latencies.sort((a, b) => a - b);
        resolve({
          rps: throughput(perConnection) * (measuredAll > 0 ? measuredGood / measuredAll : 0),
          p50Ms: percentileOfSorted(latencies, 50),
          p99Ms: percentileOfSorted(latencies, 99),
          measured: measuredAll,
          firstResponseMaxMs,
          ...counts,
          transportErrors: result.errors,
          timeouts: result.timeouts,
          errorSamples,
          latenciesMs: latencies,
        });
      },
    );
    // An `amount` run ends when its requests are answered; should the server stall, end it anyway.
    const safety = setTimeout(() => instance.stop(), (options.warmupS + options.measureS) * 3000 + 10_000);
    const announcer = announceWindow(windowStart, windowEnd, options);

    instance.on('response', (client: object, _status: number, _bytes: number, responseTimeMs: number) => {
      const now = performance.now();
      const first = !answered.has(client);
      if (first) {
        answered.add(client);
        firstResponseMaxMs = Math.max(firstResponseMaxMs, responseTimeMs);
      }
      if (now < windowStart || now > windowEnd) return;
      if (!first) latencies.push(responseTimeMs);
      if (lastStatusOk && lastVerdict !== 'error') measuredGood += 1;
      measuredAll += 1;
      const window = perConnection.get(client);
      if (window) {
        window.last = now;
        window.count += 1;
      } else {
        perConnection.set(client, { first: now, last: now, count: 1 });
      }
    });
  });
}

/**
 * Requests per second as the sum over connections of (answers - 1) / (time from first to last
 * answer) inside the window. With a closed loop of slow requests (1,000 connections each waiting
 * 1 s) answers come in waves, and a plain count over a fixed window would be off by up to a whole
 * wave (±10% over 10 s) depending on where the window edges fall; each connection's own rate is not.
 * With fast requests it equals the plain count.
 */
function throughput(perConnection: Map<object, ConnectionWindow>): number {
  let rps = 0;
  for (const { first, last, count } of perConnection.values()) {
    if (count >= 2 && last > first) rps += ((count - 1) * 1000) / (last - first);
  }
  return rps;
}

/**
 * Calls onWindowStart and onWindowEnd when the window opens and closes. A run that ends early (an
 * `amount` run, an error) closes an open window then; one that ended before it opened opens none.
 */
function announceWindow(opensAt: number, closesAt: number, { onWindowStart, onWindowEnd }: LoadOptions): { finish(): void } {
  let state: 'before' | 'open' | 'closed' = 'before';
  const open = setTimeout(() => {
    state = 'open';
    onWindowStart?.();
  }, opensAt - performance.now());
  const close = () => {
    if (state === 'open') onWindowEnd?.();
    state = 'closed';
  };
  const closing = setTimeout(close, closesAt - performance.now());
  return {
    finish: () => {
      clearTimeout(open);
      clearTimeout(closing);
      close();
    },
  };
}
