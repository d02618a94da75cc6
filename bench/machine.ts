// The machine line of the report: results mean little without it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Call before pinning this process: `nproc` counts the CPUs this process may use. */
export function describeMachine(): string {
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU';
  const load = loadavg().map((value) => value.toFixed(2)).join(' ');
  return `nproc ${nproc}, ${model}, node ${process.version}, load average at start ${load}`;
}
