// hello10k: `count` requests sent at once, each on a connection of its own (node:http, no agent),
// every answer awaited and checked. It shows what holding that many waits costs the server (its
// peak RSS above all) and that none is lost; its req/s says little. Neither wrk nor autocannon is
// used: both keep each connection sending, and report per connection, not per request.
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { GRAPHQL_PATH, JSON_HEADERS } from './graphql.js';
import type { BurstFigures, LoadResult } from './loadgen.js';
import { percentileOfSorted } from './stats.js';

export type BurstOptions = {
  baseUrl: string;
  count: number;
  body: string;
  /** How long the server holds each request: answers this close together waited at the same time. */
  delayMs: number;
  /** Seconds a request may go without an answer before it counts as a timeout. */
  timeoutS: number;
  /** The problem with a 200 response's body, or null when it is the expected answer. */
  check: (body: string) => string | null;
  /** Called before the first request is sent and after the last answer: the burst is the measured window. */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
};

/**
 * Requests started per turn of the event loop: between turns the sockets made so far connect and
 * send, so the requests reach the server as they are made rather than all after the loop.
 */
const REQUESTS_PER_TURN = 200;

type Answer = { status: number; body: string; sentAt: number; answeredAt: number } | { error: Error; timedOut: boolean };

export async function runBurst(options: BurstOptions): Promise<LoadResult> {
  const url = `${options.baseUrl}${GRAPHQL_PATH}`;
  const headers = { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(options.body)) };
  let inFlight = 0;
  let peakInFlight = 0;

  const send = () =>
    new Promise<Answer>((resolve) => {
      const sentAt = performance.now();
      inFlight += 1;
      peakInFlight = Math.max(peakInFlight, inFlight);
      let settled = false;
      const settle = (answer: Answer) => {
        if (settled) return;
        settled = true;
        inFlight -= 1;
        resolve(answer);
      };
      let timedOut = false;
      const req = request(url, { method: 'POST', headers, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => settle({ status: response.statusCode ?? 0, body, sentAt, answeredAt: performance.now() }));
        response.on('error', (error) => settle({ error, timedOut }));
      });
      req.setTimeout(options.timeoutS * 1000, () => {
        timedOut = true;
        req.destroy(new Error(`no answer within ${options.timeoutS} s`));
      });
      req.on('error', (error) => settle({ error, timedOut }));
      req.end(options.body);
    });

  options.onWindowStart?.();
  const started = performance.now();
  const pending: Promise<Answer>[] = [];
  for (let index = 0; index < options.count; index += 1) {
    if (index > 0 && index % REQUESTS_PER_TURN === 0) await nextTurn();
    pending.push(send());
  }
  const sendMs = performance.now() - started;
  const answers = await Promise.all(pending);
  options.onWindowEnd?.();
  return summarize(answers, options, { sendMs, peakInFlight, started });
}

function summarize(answers: readonly Answer[], options: BurstOptions, sending: { sendMs: number; peakInFlight: number; started: number }): LoadResult {
  const counts = { ok: 0, graphqlErrors: 0, non2xx: 0, transportErrors: 0, timeouts: 0 };
  const errorSamples: string[] = [];
  const latencies: number[] = [];
  const waitsEndAt: number[] = [];
  let lastAnswer = sending.started;
  for (const answer of answers) {
    if ('error' in answer) {
      counts.transportErrors += 1;
      if (answer.timedOut) counts.timeouts += 1;
      if (errorSamples.length < 3) errorSamples.push(answer.error.message);
      continue;
    }
    latencies.push(answer.answeredAt - answer.sentAt);
    lastAnswer = Math.max(lastAnswer, answer.answeredAt);
    const problem = answer.status === 200 ? options.check(answer.body) : `status ${answer.status}`;
    if (problem === null) {
      counts.ok += 1;
      waitsEndAt.push(answer.answeredAt);
    } else {
      if (answer.status === 200) counts.graphqlErrors += 1;
      else counts.non2xx += 1;
      if (errorSamples.length < 3) errorSamples.push(`${problem}: ${answer.body.slice(0, 300)}`);
    }
  }
  latencies.sort((a, b) => a - b);
  const burst: BurstFigures = {
    requests: answers.length,
    answered: counts.ok,
    sendMs: sending.sendMs,
    peakInFlight: sending.peakInFlight,
    peakConcurrentWaits: peakOverlap(waitsEndAt, options.delayMs),
    maxMs: latencies.at(-1) ?? Number.NaN,
  };
  const seconds = (lastAnswer - sending.started) / 1000;
  return {
    rps: seconds > 0 ? counts.ok / seconds : 0,
    p50Ms: percentileOfSorted(latencies, 50),
    p99Ms: percentileOfSorted(latencies, 99),
    measured: latencies.length,
    firstResponseMaxMs: burst.maxMs,
    ...counts,
    business: 0,
    errorSamples,
    latenciesMs: latencies,
    burst,
    generator: 'burst',
  };
}

/**
 * The most intervals [end - length, end] that overlap at one instant. An answer came right after its
 * wait in the server ended, so this estimates how many waits the server held at once.
 */
function peakOverlap(ends: readonly number[], length: number): number {
  const sorted = [...ends].sort((a, b) => a - b);
  let peak = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last += 1) {
    // The intervals that end less than `length` before this one all still hold at its start.
    while (sorted[first]! <= sorted[last]! - length) first += 1;
    peak = Math.max(peak, last - first + 1);
  }
  return peak;
}
