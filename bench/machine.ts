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

/**
 * The kernel's count of connections dropped because a listen queue was full (system-wide, from
 * /proc/net/netstat). A burst of connections that overflows the server's accept backlog shows here.
 */
export function readListenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('ListenOverflows')] ?? Number.NaN);
}
