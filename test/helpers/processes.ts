import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

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
