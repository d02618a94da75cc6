// One load run with wrk (Debian's package), a C load generator that sends about twice what
// autocannon does from one core, so that the fastest servers are not limited by it. It runs pinned
// to the load-generator core, one thread, with wrk/load.lua making the requests and classifying
// the answers. Warm-up and measurement are two wrk runs, one after the other: wrk reports only
// totals, not answers over time, so the measured window is the whole of the second run (on new
// connections to a warm server; wrk's latency starts when a request is written, after the connect).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRAPHQL_PATH, JSON_HEADERS } from './graphql.js';
import type { LoadOptions, LoadResult } from './loadgen.js';
import { LOADGEN_CORE } from './processes.js';

const SCRIPT = fileURLToPath(new URL('wrk/load.lua', import.meta.url));

/**
 * Bodies made beforehand for one wrk run of a scenario whose bodies vary: wrk cannot call back into
 * this process. Bodies that must never repeat get enough for this rate over the run (well above
 * any server here); random ones are sent in turn from a pool.
 */
const UNIQUE_BODIES_PER_SECOND = 40_000;
const RANDOM_BODIES = 10_000;
/**
 * Above this share of the window, the answers cut off at its edges (up to one per connection) would
 * bias a count: the rate then comes from Little's law, connections / mean latency, which for a
 * closed loop of slow requests (1,000 connections each waiting 1 s) does not depend on the edges.
 */
const EDGE_SHARE = 0.01;

/** What wrk/load.lua's done() writes. */
type WrkFigures = {
  durationUs: number;
  responses: number;
  ok: number;
  business: number;
  graphqlErrors: number;
  non2xx: number;
  wraps: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  samples: string;
};

export async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  try {
    writeFileSync(join(dir, 'headers'), Object.entries({ ...JSON_HEADERS, ...options.headers }).map(([name, value]) => `${name}: ${value}\n`).join(''));
    const warmup = await runOnce(options, options.warmupS, dir, 'warmup');
    options.onWindowStart?.();
    let measured: WrkFigures;
    try {
      measured = await runOnce(options, options.measureS, dir, 'measured');
    } finally {
      options.onWindowEnd?.();
    }
    return toLoadResult(warmup, measured, options);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runOnce(options: LoadOptions, seconds: number, dir: string, tag: string): Promise<WrkFigures> {
  // wrk takes whole seconds.
  const wholeSeconds = Math.max(1, Math.round(seconds));
  const count = !options.varies ? 1 : options.unique ? UNIQUE_BODIES_PER_SECOND * wholeSeconds : RANDOM_BODIES;
  const bodies = join(dir, `${tag}.bodies`);
  writeFileSync(bodies, Array.from({ length: count }, () => `${options.body()}\n`).join(''));
  const result = join(dir, `${tag}.json`);
  const args = [
    '-c', String(LOADGEN_CORE), 'wrk', '-t', '1', '-c', String(options.connections), '-d', `${wholeSeconds}s`,
    '--timeout', `${options.timeoutS}s`, '-s', SCRIPT, `${options.baseUrl}${GRAPHQL_PATH}`,
  ];
  const env = { ...process.env, BENCH_BODIES: bodies, BENCH_HEADERS: join(dir, 'headers'), BENCH_BUSINESS: options.businessErrors ? '1' : '0', BENCH_RESULT: result };
  const child = spawn('taskset', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  let figures: WrkFigures;
  try {
    figures = JSON.parse(readFileSync(result, 'utf8')) as WrkFigures;
  } catch {
    throw new Error(`wrk (${tag}) exited with ${code} and no figures: ${output.trim().slice(0, 500)}`);
  }
  if (options.unique && figures.wraps > 0) {
    throw new Error(`wrk (${tag}) sent its ${count} distinct bodies more than once: raise UNIQUE_BODIES_PER_SECOND in bench/wrk-load.ts`);
  }
  return figures;
}

function toLoadResult(warmup: WrkFigures, measured: WrkFigures, options: LoadOptions): LoadResult {
  const sum = (pick: (f: WrkFigures) => number) => pick(warmup) + pick(measured);
  const good = measured.ok + measured.business;
  const seconds = measured.durationUs / 1e6;
  const edgeShare = measured.meanUs / measured.durationUs;
  const rps =
    edgeShare > EDGE_SHARE
      ? (options.connections * (measured.responses > 0 ? good / measured.responses : 0)) / (measured.meanUs / 1e6)
      : good / seconds;
  const transport = (f: WrkFigures) => f.connectErrors + f.readErrors + f.writeErrors + f.timeouts;
  return {
    rps,
    p50Ms: measured.p50Us / 1000,
    p99Ms: measured.p99Us / 1000,
    measured: measured.responses,
    // wrk's latencies never include the connect, and it does not say how long that took.
    firstResponseMaxMs: Number.NaN,
    ok: sum((f) => f.ok),
    business: sum((f) => f.business),
    graphqlErrors: sum((f) => f.graphqlErrors),
    non2xx: sum((f) => f.non2xx),
    transportErrors: sum(transport),
    timeouts: sum((f) => f.timeouts),
    errorSamples: `${warmup.samples}${measured.samples}`.split('\n').filter(Boolean).slice(0, 3),
    latenciesMs: [],
    generator: 'wrk',
  };
}
