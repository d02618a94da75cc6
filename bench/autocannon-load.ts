// One load run with autocannon, in this process (pinned to the load-generator core): the fallback
// when wrk is missing, and the generator of runs that need every latency or an exact number of
// requests (see loadgen.ts). Warm-up and measurement are one continuous run, so the measured window
// sees warm connections and a warm server; only responses that arrive inside the window count.
import { performance } from 'node:perf_hooks';
import autocannon, { type RequestParams } from 'autocannon';
import { GRAPHQL_PATH, JSON_HEADERS } from './graphql.js';
import { classifyBody, type LoadOptions, type LoadResult, type Verdict } from './loadgen.js';
import { percentileOfSorted } from './stats.js';

type ConnectionWindow = { first: number; last: number; count: number };

export function runAutocannon(options: LoadOptions): Promise<LoadResult> {
  const counts = { ok: 0, business: 0, graphqlErrors: 0, non2xx: 0 };
  const errorSamples: string[] = [];
  // onResponse sees the body, the instance's 'response' event that follows it synchronously sees
  // the connection and latency: this carries the verdict from the one to the other.
  let lastVerdict: Verdict = 'error';
  let lastStatusOk = false;

  const onResponse = (status: number, body: string) => {
    lastStatusOk = status >= 200 && status < 300;
    lastVerdict = lastStatusOk ? classifyBody(body, options.businessErrors) : 'error';
    if (!lastStatusOk) counts.non2xx += 1;
    else if (lastVerdict === 'ok') counts.ok += 1;
    else if (lastVerdict === 'business') counts.business += 1;
    else counts.graphqlErrors += 1;
    if (lastVerdict === 'error' && errorSamples.length < 3) errorSamples.push(`${status} ${body.slice(0, 300)}`);
  };

  const request = {
    method: 'POST',
    path: GRAPHQL_PATH,
    headers: { ...JSON_HEADERS, ...options.headers },
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
          generator: 'autocannon',
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
