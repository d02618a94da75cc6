// Server child processes: started pinned to the server core, found ready by /health, measured by
// /proc and by the window probe, and always killed, whatever way the bench ends.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { memoryOf } from '../test/helpers/probe.js';
import { waitFor } from '../test/helpers/wait-for.js';
import type { ProbeReport, ProbeRequest } from './servers/window-probe.js';

/** The server runs on this core; the load generator (this process) on LOADGEN_CORE. */
export const SERVER_CORE = 0;
export const LOADGEN_CORE = 1;

export type ServerProcess = {
  name: string;
  pid: number;
  url: string;
  /** The server's log (stdout and stderr), for the report when something goes wrong. */
  logFile: string;
  /** Peak resident memory of the server process so far, from /proc/PID/status VmHWM, in MB. */
  peakRssMb(): number;
  /** How the process ended, if it has: a server that dies mid-run must be reported as such. */
  exited(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Opens the measured window of the server's probe (see servers/window-probe.ts). */
  startWindow(): void;
  /** Closes it: the server's own figures over the window, or undefined without a probe or an answer. */
  endWindow(): Promise<WindowFigures | undefined>;
};

/** What the server itself saw over the measured window. */
export type WindowFigures = {
  /** Total GC pause time / wall time of the window. */
  gcShare: number;
  gcPauseMs: number;
  gcCount: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
};

export type StartOptions = {
  name: string;
  /**
   * The entry point: JavaScript runs under plain node; TypeScript under `node --import tsx` (tsx's
   * loader is a thread in the same process, so the PID is still node's own).
   */
  script: string;
  /** The compiled window probe, preloaded with --import; the server then gets an IPC channel. */
  probe?: string;
  env: Record<string, string>;
  /** Extra node flags, such as --cpu-prof. */
  nodeArgs?: readonly string[];
  /** Variables of this process's environment the server must not inherit. */
  unsetEnv?: readonly string[];
  logFile: string;
  cwd: string;
  readyTimeoutMs?: number;
  /** The core the server is pinned to (SERVER_CORE unless told: queue mode spreads replicas). */
  core?: number;
};

const live = new Set<ChildProcess>();

/** Kills every server still running. Synchronous, so that it also works in an 'exit' handler. */
export function killAllServers(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

/** Pins this process, every thread of it, to the load-generator core. */
export function pinSelfToLoadgenCore(): void {
  execFileSync('taskset', ['-a', '-cp', String(LOADGEN_CORE), String(process.pid)], { stdio: 'ignore' });
}

/** A port nobody listens on right now: the OS picks it, we release it, the server takes it. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const port = await freePort();
  const inherited = { ...process.env };
  for (const name of options.unsetEnv ?? []) delete inherited[name];
  const log = openSync(options.logFile, 'a');
  const preloads = [...(options.probe ? ['--import', options.probe] : []), ...(options.script.endsWith('.ts') ? ['--import', 'tsx'] : [])];
  // taskset execs node in place (no fork), so child.pid is the node process whose VmHWM we read,
  // and the IPC channel (an inherited fd) reaches node itself.
  const core = options.core ?? SERVER_CORE;
  const child = spawn('taskset', ['-c', String(core), process.execPath, ...(options.nodeArgs ?? []), ...preloads, options.script], {
    cwd: options.cwd,
    env: { ...inherited, NODE_ENV: 'production', ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', log, log, ...(options.probe ? (['ipc'] as const) : [])],
  });
  closeSync(log);
  live.add(child);
  const exited = once(child, 'exit').then(() => void live.delete(child));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not spawn taskset`);

  const url = `http://127.0.0.1:${port}`;
  const stop = async (graceMs = 3000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitForHealth(url, child, options.readyTimeoutMs ?? 30_000);
    assertIsPinnedNode(pid, core);
  } catch (error) {
    await stop(500);
    throw new Error(`${options.name} did not start: ${(error as Error).message}\n--- log ${options.logFile} ---\n${tail(options.logFile)}`);
  }
  const exitedHow = () =>
    child.exitCode !== null ? `exit code ${child.exitCode}` : child.signalCode !== null ? `signal ${child.signalCode}` : undefined;
  return { name: options.name, pid, url, logFile: options.logFile, peakRssMb: () => memoryOf(pid).peakRssMb, exited: exitedHow, stop, ...probeWindow(child) };
}

/** The bench's side of servers/window-probe.ts. A server without a probe reports nothing. */
function probeWindow(child: ChildProcess): Pick<ServerProcess, 'startWindow' | 'endWindow'> {
  // send() on a closed channel reports through its callback; without one it would be an 'error' event.
  const send = (request: ProbeRequest) => child.connected && child.send(request, () => {});
  return {
    startWindow: () => void send({ probe: 'start' }),
    endWindow: async () => {
      if (!child.connected) return undefined;
      const timeout = AbortSignal.timeout(5000);
      const answer = once(child, 'message', { signal: timeout }).then(
        ([report]) => report as ProbeReport,
        () => undefined,
      );
      send({ probe: 'report' });
      const report = await answer;
      return report && {
        gcShare: report.wallMs > 0 ? report.gcPauseMs / report.wallMs : Number.NaN,
        gcPauseMs: report.gcPauseMs,
        gcCount: report.gcCount,
        eventLoopDelayP99Ms: report.eventLoopDelayP99Ms,
        eventLoopDelayMaxMs: report.eventLoopDelayMaxMs,
      };
    },
  };
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const healthy = async () => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode} before answering /health`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false; // not listening yet
    }
  };
  await waitFor(healthy, timeoutMs).catch((error: Error) => {
    throw child.exitCode !== null || child.signalCode !== null ? error : new Error(`no 200 from ${url}/health within ${timeoutMs} ms`);
  });
}

/** Guards the memory figure: it must be node's own process, on the server core, not a wrapper. */
function assertIsPinnedNode(pid: number, core: number): void {
  const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  if (argv0 !== process.execPath) throw new Error(`PID ${pid} runs ${argv0}, not ${process.execPath}`);
  const cpus = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (cpus !== String(core)) throw new Error(`PID ${pid} may run on CPUs ${cpus}, not only ${core}`);
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Makes sure a process may hold `needed` open files (sockets count): hello10k needs 10,000 sockets
 * on each side. Node raises its own soft limit to the hard one at start; should that not be enough,
 * prlimit raises the running process's limits (its PID stays node's), which past the hard limit
 * takes CAP_SYS_RESOURCE.
 */
export function ensureOpenFilesLimit(pid: number, needed: number): void {
  const { soft, hard } = readOpenFilesLimit(pid);
  if (soft >= needed) return;
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${needed}:${Math.max(needed, hard)}`], { stdio: 'pipe' });
  } catch (error) {
    const output = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    throw new Error(`PID ${pid} may open ${soft} files (hard limit ${hard}), fewer than ${needed}, and prlimit could not raise it (${output}); raise the hard limit (ulimit -Hn) in the shell that runs the bench`);
  }
}

function readOpenFilesLimit(pid: number): { soft: number; hard: number } {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const value = (text: string | undefined) => (text === undefined ? 0 : text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text));
  return { soft: value(match?.[1]), hard: value(match?.[2]) };
}
