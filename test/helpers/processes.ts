import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait-for.js';

const root = new URL('../..', import.meta.url);

export type Exited = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** Runs a command in the project folder, collecting its output until it exits. */
export function run(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited: Promise<Exited> = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }));
  return { child, exited, output: () => stdout };
}

export type ServerProcess = { url: string; child: ChildProcess; exited: Promise<Exited> };

/** Starts `src/main.ts` as a server process of its own on a free port; resolves once it listens. */
export async function startServerProcess(env: Record<string, string>, command: [string, string[]] = [process.execPath, ['--import', 'tsx', 'src/main.ts']]): Promise<ServerProcess> {
  const server = run(command[0], command[1], { PORT: '0', ...env });
  const url = await new Promise<string>((resolve, reject) => {
    server.child.stdout.on('data', () => {
      const match = /GraphQL server on (http:\/\/[^/\s]+)\/graphql/.exec(server.output());
      if (match?.[1]) resolve(match[1]);
    });
    void server.exited.then(({ stderr }) => reject(new Error(`server exited before listening: ${stderr}`)));
  });
  return { url, child: server.child, exited: server.exited };
}

export type NpmStart = {
  /** The process group's id: npm's pid, since npm leads a group of its own. */
  pgid: number;
  url: Promise<string>;
  /** Everything npm and the server printed so far, stdout and stderr together. */
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` to the whole group, as a terminal's Ctrl-C (SIGINT) or `kill -TERM -PGID` does. */
  signalGroup(signal: NodeJS.Signals): void;
};

/**
 * `npm start` in `dir`, as a user runs it in a terminal: in a process group of its own, with its
 * output going to a file rather than a pipe, so that npm forwards the signals it gets to the server
 * as it does in a terminal (stdio inherited).
 */
export function startNpmStart(dir: string, env: Record<string, string>): NpmStart {
  const logFile = join(dir, `npm-start-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const fd = openSync(logFile, 'w');
  const child = spawn('npm', ['start'], { cwd: dir, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const log = () => readFileSync(logFile, 'utf8');
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = (async () => {
    let match: RegExpExecArray | null = null;
    // The log is a file: nothing to subscribe to, so it is re-read until the server says where it listens.
    await waitFor(async () => gone || (match = /GraphQL server on (http:\/\/[^/\s]+)\/graphql/.exec(log())) !== null, 120_000);
    if (!match) throw new Error(`npm start exited before listening:\n${log()}`);
    return (match as RegExpExecArray)[1]!;
  })();
  return { pgid: child.pid!, url, log, exited, signalGroup: (signal) => process.kill(-child.pid!, signal) };
}
