// Where a server's CPU time goes, by package: the self time of a V8 .cpuprofile (`node --cpu-prof`,
// or `npm run bench -- --profile`) summed per node_modules package, with node's own modules, the
// garbage collector and native code apart. Several profiles print side by side, so that a change's
// effect reads as a before/after table (docs/performance.md).
//
//   npx tsx bench/profile-summary.ts before.cpuprofile after.cpuprofile [--top 20] [--functions 15]
//   npx tsx bench/profile-summary.ts before=a.cpuprofile@61000 after=b.cpuprofile@170000
//
// A column may be named (NAME=FILE), and given the number of requests the profile covers (@N):
// its cells then also say how many microseconds of CPU per request each row costs.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number } };
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
type Shares = { busyMs: number; byPackage: Map<string, number>; byFunction: Map<string, number> };
type Column = { label: string; file: string; requests?: number };

function parseColumn(arg: string): Column {
  const match = /^(?:([^=]+)=)?(.+?)(?:@(\d+))?$/.exec(arg)!;
  return { label: match[1] ?? basename(match[2]!), file: match[2]!, requests: match[3] === undefined ? undefined : Number(match[3]) };
}

function packageOf({ functionName, url }: ProfileNode['callFrame']): string {
  if (functionName === '(garbage collector)') return '(garbage collector)';
  if (functionName === '(program)') return '(program: V8 and native code not attributed)';
  if (!url) return `(native) ${functionName}`;
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1]!;
  if (url.startsWith('node:')) return 'node (http, streams, events...)';
  return 'ours (src/, dist/)';
}

function summarize(file: string): Shares {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busyUs = 0;
  profile.samples.forEach((id, index) => {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') return;
    const us = profile.timeDeltas[index] ?? 0;
    busyUs += us;
    const name = packageOf(frame);
    byPackage.set(name, (byPackage.get(name) ?? 0) + us);
    const where = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber}`;
    byFunction.set(where, (byFunction.get(where) ?? 0) + us);
  });
  return { busyMs: busyUs / 1000, byPackage, byFunction };
}

function table(title: string, columns: readonly Column[], all: readonly Shares[], pick: (shares: Shares) => Map<string, number>, top: number): string {
  const totals = new Map<string, number>();
  for (const shares of all) for (const [name, us] of pick(shares)) totals.set(name, (totals.get(name) ?? 0) + us / (shares.busyMs * 1000));
  const names = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name]) => name);
  const lines = [`| ${title} | ${columns.map((column) => column.label).join(' | ')} |`, `|---|${columns.map(() => '---:').join('|')}|`];
  const cell = (shares: Shares, column: Column, us: number) => {
    const share = `${((100 * us) / (shares.busyMs * 1000)).toFixed(1)} %`;
    return column.requests ? `${share} (${(us / column.requests).toFixed(1)} µs)` : share;
  };
  for (const name of names) lines.push(`| ${name} | ${all.map((shares, index) => cell(shares, columns[index]!, pick(shares).get(name) ?? 0)).join(' | ')} |`);
  return lines.join('\n');
}

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : Number(args.splice(index, 2)[1]);
};
const top = option('--top', 20);
const functions = option('--functions', 15);
if (args.length === 0) {
  console.error('usage: npx tsx bench/profile-summary.ts PROFILE.cpuprofile [MORE.cpuprofile ...] [--top N] [--functions N]');
  process.exit(2);
}
const columns = args.map(parseColumn);
const all = columns.map((column) => summarize(column.file));
const perRequest = (shares: Shares, column: Column) => (column.requests ? `, ${((shares.busyMs * 1000) / column.requests).toFixed(1)} µs per request` : '');
console.log(`busy (not idle) CPU time: ${all.map((shares, index) => `${columns[index]!.label} ${shares.busyMs.toFixed(0)} ms${perRequest(shares, columns[index]!)}`).join('; ')}\n`);
console.log(table('package (share of busy CPU time)', columns, all, (shares) => shares.byPackage, top));
if (functions > 0) console.log(`\n${table('function (self time)', columns, all, (shares) => shares.byFunction, functions)}`);
