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

/** The resident memory of a process, now and at its peak, in MB (Linux's /proc). */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}
