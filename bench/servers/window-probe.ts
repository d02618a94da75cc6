// Preloaded (`node --import`) into every server the bench starts. Over the bench's measured window,
// and only then, it sums the GC pauses (PerformanceObserver 'gc': each entry's duration is time the
// main thread stood still) and samples the event-loop delay; the bench opens the window and asks for
// the figures over the IPC channel it spawned the server with. Outside the window nothing is
// observed, so the probe costs the server nothing while it is not being measured.
import { monitorEventLoopDelay, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/** What the bench sends: open the window (starting from zero), or close it and report. */
export type ProbeRequest = { probe: 'start' } | { probe: 'report' };

export type ProbeReport = {
  probe: 'report';
  /** The window's length as the server saw it. */
  wallMs: number;
  /** Total GC pause time in the window. */
  gcPauseMs: number;
  gcCount: number;
  /** Event-loop delay: how late a timer due every RESOLUTION_MS ran, beyond its due time. */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
};

/** Samples per second while measuring; the finer, the more wake-ups of an idle server. */
const RESOLUTION_MS = 10;

type Window = { startedAt: number; gcPauseMs: number; gcCount: number; gc: PerformanceObserver; delay: ReturnType<typeof monitorEventLoopDelay> };

function openWindow(): Window {
  const window: Window = {
    startedAt: performance.now(),
    gcPauseMs: 0,
    gcCount: 0,
    gc: new PerformanceObserver((list) => addGc(window, list.getEntries())),
    delay: monitorEventLoopDelay({ resolution: RESOLUTION_MS }),
  };
  window.gc.observe({ entryTypes: ['gc'] });
  window.delay.enable();
  return window;
}

function addGc(window: Window, entries: readonly PerformanceEntry[]): void {
  for (const entry of entries) {
    window.gcPauseMs += entry.duration;
    window.gcCount += 1;
  }
}

function closeWindow(window: Window): ProbeReport {
  // Entries are delivered to the callback asynchronously: collect those not delivered yet.
  addGc(window, window.gc.takeRecords());
  window.gc.disconnect();
  window.delay.disable();
  // The histogram holds the intervals between the timer's runs, in ns: the delay is what exceeds the interval.
  const delayMs = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  return {
    probe: 'report',
    wallMs: performance.now() - window.startedAt,
    gcPauseMs: window.gcPauseMs,
    gcCount: window.gcCount,
    eventLoopDelayP99Ms: delayMs(window.delay.percentile(99)),
    eventLoopDelayMaxMs: delayMs(window.delay.max),
  };
}

// Only a process spawned with an IPC channel (the bench's servers) is probed.
if (process.send && process.channel) {
  let window: Window | undefined;
  process.on('message', (message: ProbeRequest) => {
    if (message?.probe === 'start') {
      if (window) closeWindow(window);
      window = openWindow();
    } else if (message?.probe === 'report' && window) {
      const report = closeWindow(window);
      window = undefined;
      process.send?.(report);
    }
  });
  // Listening on the channel refs it; unref it so that it never keeps a server alive that would end.
  process.channel.unref();
}
