import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as pause } from 'node:timers/promises';

export type ProbeReport = {
  /** Probes answered with `Hello, World`. */
  answered: number;
  /** Probes that failed: a refused or reset connection, a timeout, a wrong answer. */
  failed: number;
  /** The slowest probe, in milliseconds (failed ones count with the time they took). */
  slowestMs: number;
};

/**
 * What a user of the server sees while a hostile client is at work: a `{ hello(delayMs: 0) }` sent
 * again as soon as the last one is answered (and `gapMs` later), until `stop()`. An attack that
 * blocks the event loop, exhausts memory or takes every connection shows as a slow or failed probe.
 *
 * Run the attacked server in another process (startServerProcess) when the attack could crash it or
 * block its event loop for long: an in-process server would take the test runner with it.
 */
export function startProbe(url: string, { gapMs = 20, timeoutMs = 10_000 }: { gapMs?: number; timeoutMs?: number } = {}) {
  const report: ProbeReport = { answered: 0, failed: 0, slowestMs: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      try {
        const response = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ query: '{ hello(delayMs: 0) }' }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = (await response.json()) as { data?: { hello?: string } };
        if (body.data?.hello === 'Hello, World') report.answered += 1;
        else report.failed += 1;
      } catch {
        report.failed += 1;
      }
      report.slowestMs = Math.max(report.slowestMs, performance.now() - started);
      // Pacing, not synchronisation: the probe is a client that keeps asking.
      await pause(gapMs);
    }
  })();
  return {
    /** Stops after the probe in flight, and reports every probe sent. */
    async stop(): Promise<ProbeReport> {
      stopped = true;
      await loop;
      return report;
    },
  };
}

/**
 * The same probe, run from a process of its own: for attacks whose clients run in the test's
 * process and keep its event loop busy (hundreds of sockets, megabytes to send or read), which
 * would otherwise show as a slow probe when the server is not slow at all.
 */
export async function startProbeProcess(url: string, { gapMs = 20, timeoutMs = 10_000 }: { gapMs?: number; timeoutMs?: number } = {}) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, url, String(gapMs), String(timeoutMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  const started = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await started;
  return {
    /** Stops after the probe in flight, and reports every probe sent. */
    async stop(): Promise<ProbeReport> {
      child.stdin.end();
      await exited;
      return JSON.parse(output.slice(output.indexOf('\n') + 1)) as ProbeReport;
    },
  };
}

// The loop of startProbe, for \`node -e\`: prints a line once it probes, the report once stdin ends.
// One probe before that line, not counted: it opens the probe's connection (kept alive after) and
// warms the client, so that the attack meets a user already connected, and the first probe's cost
// is not the new process's.
const PROBE_SCRIPT = `
const [url, gapMs, timeoutMs] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const report = { answered: 0, failed: 0, slowestMs: 0 };
const probe = async () => {
  const response = await fetch(url + '/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: '{ hello(delayMs: 0) }' }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return (await response.json()).data?.hello === 'Hello, World';
};
await probe().catch(() => false);
let stopped = false;
process.stdin.on('end', () => (stopped = true)).resume();
process.stdout.write('probing\\n');
while (!stopped) {
  const started = performance.now();
  try {
    if (await probe()) report.answered += 1;
    else report.failed += 1;
  } catch {
    report.failed += 1;
  }
  report.slowestMs = Math.max(report.slowestMs, performance.now() - started);
  await new Promise((resolve) => setTimeout(resolve, gapMs));
}
process.stdout.write(JSON.stringify(report));
`;

/** The resident memory of a process, now and at its peak, in MB (Linux's /proc). */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}
