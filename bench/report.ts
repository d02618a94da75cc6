import { writeFileSync } from 'node:fs';
// Turns the runs into the one markdown table, the PASS/FAIL bars and the per-round details.
import type { LoadResult } from './loadgen.js';
import type { Check, Scenario } from './scenarios.js';
import { median } from './stats.js';
import { SERVER_LABELS, type ServerKind } from './targets.js';

export type RunRecord = {
  scenario: string;
  server: ServerKind;
  round: number;
  load?: LoadResult;
  peakRssMb?: number;
  checks: Check[];
  notes: string[];
  /** Why the run produced no figures (the server did not start, the validation request failed...). */
  failure?: string;
};

type Row = {
  scenario: Scenario;
  server: ServerKind;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  peakRssMb: number;
  vsBare?: number;
  vsPlainYoga?: number;
  notes: string[];
  failures: string[];
};

/** The bars of the issue: ours against the others in three scenarios, and limits for every scenario. */
const MIN_VS_PLAIN_HELLO = 0.95;
const MIN_VS_BARE_SLOW_HELLO = 0.95;
const MAX_P99_SLOW_HELLO_MS = 1500;
const MIN_VS_PLAIN_ACCOUNTS = 1.6;
const MAX_RSS_MB = 300;

const errorsOf = (load: LoadResult) => load.graphqlErrors + load.non2xx + load.transportErrors;

export function summarize(scenarios: readonly Scenario[], records: readonly RunRecord[]): Row[] {
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    const runsOf = (server: ServerKind) => records.filter((r) => r.scenario === scenario.name && r.server === server);
    for (const server of scenario.servers) {
      const runs = runsOf(server);
      if (runs.length === 0) continue;
      const loaded = runs.filter((r): r is RunRecord & { load: LoadResult } => r.load !== undefined);
      // A run whose server died mid-way keeps its error count but gives no figures.
      const measured = loaded.filter((r) => !r.failure);
      const business = measured.reduce((sum, r) => sum + r.load.business, 0);
      rows.push({
        scenario,
        server,
        rps: median(measured.map((r) => r.load.rps)),
        p50Ms: median(measured.map((r) => r.load.p50Ms)),
        p99Ms: median(measured.map((r) => r.load.p99Ms)),
        errors: loaded.reduce((sum, r) => sum + errorsOf(r.load), 0),
        peakRssMb: Math.max(...runs.map((r) => r.peakRssMb ?? Number.NaN)),
        vsBare: pairedRatio(measured, runsOf('bare').filter((r) => !r.failure)),
        vsPlainYoga: pairedRatio(measured, runsOf('plain-yoga').filter((r) => !r.failure)),
        notes: [
          ...(business > 0 ? [`${business} INSUFFICIENT_FUNDS (accepted outcome)`] : []),
          ...[...new Set(runs.flatMap((r) => r.checks.map((c) => c.name)))].map(
            (name) => `${name}: ${runs.every((r) => r.checks.find((c) => c.name === name)?.pass) ? 'PASS' : 'FAIL'}`,
          ),
        ],
        failures: runs.filter((r) => r.failure).map((r) => `round ${r.round}: ${r.failure}`),
      });
    }
  }
  return rows;
}

/**
 * The median over rounds of (this server's req/s ÷ the other's) in the same round: servers run
 * alternately, so pairing by round cancels the machine's slow drifts better than a ratio of medians.
 */
function pairedRatio(runs: readonly (RunRecord & { load: LoadResult })[], others: readonly RunRecord[]): number | undefined {
  const ratios = runs.flatMap((run) => {
    const other = others.find((o) => o.round === run.round)?.load;
    return other && other.rps > 0 ? [run.load.rps / other.rps] : [];
  });
  return ratios.length > 0 ? median(ratios) : undefined;
}

export function evaluateBars(rows: readonly Row[], records: readonly RunRecord[]): Check[] {
  const bars: Check[] = [];
  const ours = (scenario: string) => rows.find((r) => r.scenario.name === scenario && r.server === 'ours');
  const ratioBar = (scenario: string, ratio: number | undefined, min: number, other: string) => {
    const row = ours(scenario);
    if (!row) return;
    bars.push({
      name: `${scenario}: ours >= ${min} x ${other} req/s`,
      pass: ratio !== undefined && ratio >= min,
      detail: ratio === undefined ? `no ${other} figure` : `ratio ${ratio.toFixed(3)} (ours ${fmt(row.rps, 0)} req/s, median of per-round ratios)`,
    });
  };
  ratioBar('hello0', ours('hello0')?.vsPlainYoga, MIN_VS_PLAIN_HELLO, 'plain Yoga');
  ratioBar('hello1000', ours('hello1000')?.vsBare, MIN_VS_BARE_SLOW_HELLO, 'bare');
  const slow = ours('hello1000');
  if (slow) {
    bars.push({ name: `hello1000: ours p99 < ${MAX_P99_SLOW_HELLO_MS} ms`, pass: slow.p99Ms < MAX_P99_SLOW_HELLO_MS, detail: `p99 ${fmt(slow.p99Ms, 1)} ms (median over rounds)` });
  }
  ratioBar('accounts100', ours('accounts100')?.vsPlainYoga, MIN_VS_PLAIN_ACCOUNTS, 'plain Yoga (one SELECT per id)');

  for (const row of rows.filter((r) => r.server === 'ours')) {
    const name = row.scenario.name;
    bars.push({ name: `${name}: ours 0 errors`, pass: row.errors === 0 && row.failures.length === 0, detail: `${row.errors} errors${row.failures.length ? `; ${row.failures.length} failed run(s)` : ''}` });
    bars.push({ name: `${name}: ours peak RSS < ${MAX_RSS_MB} MB`, pass: row.peakRssMb < MAX_RSS_MB, detail: `${fmt(row.peakRssMb, 1)} MB (max over rounds)` });
  }
  // Invariants, every round.
  for (const record of records) {
    for (const check of record.checks) {
      bars.push({ name: `${record.scenario} round ${record.round}: ${check.name}`, pass: check.pass, detail: check.detail });
    }
  }
  // Runs of the other servers that failed make their comparisons void: say so.
  for (const record of records.filter((r) => r.failure && r.server !== 'ours')) {
    bars.push({ name: `${record.scenario} round ${record.round}: ${SERVER_LABELS[record.server]} ran`, pass: false, detail: record.failure ?? '' });
  }
  return bars;
}

export function renderTable(rows: readonly Row[]): string {
  const lines = [
    '| scenario | server | req/s (median) | p50 (ms) | p99 (ms) | errors | peak RSS (MB) | vs ceiling (bare) | vs plain Yoga | notes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.scenario.name}: ${row.scenario.title} | ${SERVER_LABELS[row.server]} | ${fmt(row.rps, 0)} | ${fmt(row.p50Ms, 1)} | ${fmt(row.p99Ms, 1)} | ${row.errors}${row.failures.length ? ` (+${row.failures.length} failed runs)` : ''} | ${fmt(row.peakRssMb, 1)} | ${ratio(row.vsBare)} | ${ratio(row.vsPlainYoga)} | ${row.notes.join('; ')} |`,
    );
  }
  return lines.join('\n');
}

export function renderDetails(records: readonly RunRecord[]): string {
  const lines = ['| scenario | server | round | req/s | p50 (ms) | p99 (ms) | measured responses | errors (graphql/non-2xx/transport) | peak RSS (MB) | notes |', '|---|---|---:|---:|---:|---:|---:|---|---:|---|'];
  for (const r of records) {
    const load = r.load;
    const notes = [...r.notes, ...r.checks.map((c) => `${c.name}: ${c.pass ? 'PASS' : 'FAIL'} (${c.detail})`), ...(r.failure ? [`FAILED: ${r.failure.split('\n')[0]}`] : []), ...(load?.errorSamples.length ? [`error sample: ${load.errorSamples[0]}`] : [])];
    lines.push(
      `| ${r.scenario} | ${SERVER_LABELS[r.server]} | ${r.round} | ${load ? fmt(load.rps, 0) : '-'} | ${load ? fmt(load.p50Ms, 1) : '-'} | ${load ? fmt(load.p99Ms, 1) : '-'} | ${load?.measured ?? '-'} | ${load ? `${load.graphqlErrors}/${load.non2xx}/${load.transportErrors}` : '-'} | ${fmt(r.peakRssMb ?? Number.NaN, 1)} | ${notes.join('; ').replaceAll('|', '\\|').replaceAll('\n', ' ')} |`,
    );
  }
  return lines.join('\n');
}

export const renderBars = (bars: readonly Check[]): string => bars.map((b) => `${b.pass ? 'PASS' : 'FAIL'} ${b.name} — ${b.detail}`).join('\n');

const fmt = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const ratio = (value: number | undefined) => (value === undefined ? '' : value.toFixed(2));

/**
 * Ends a mode's report with its invariants and the elapsed time, prints it and writes it to `file`;
 * returns the exit code: 1 when a check failed.
 */
export function finishReport(file: string, body: string[], checks: Check[], elapsedS: number): number {
  const report = [
    ...body,
    '### Invariants',
    '',
    '```',
    renderBars(checks),
    '```',
    '',
    `Elapsed: ${(elapsedS / 60).toFixed(1)} min (${Math.round(elapsedS)} s)`,
    '',
  ].join('\n');
  console.log(`\n${report}`);
  writeFileSync(file, report);
  console.log(`Written to ${file}`);
  return checks.every((check) => check.pass) ? 0 : 1;
}
