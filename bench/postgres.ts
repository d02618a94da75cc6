// `npm run bench -- --mode postgres`: our server on PostgreSQL, one replica and two replicas on the
// same fresh database, under the load of the default bench's scenarios; invariants checked through
// the API after every run.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Settings } from './args.js';
import { postBody } from './graphql.js';
import { runAutocannon } from './autocannon-load.js';
import type { LoadResult } from './loadgen.js';
import { checkPostgres, createDatabase, describeFailure, endRun, PG_ADMIN_URL, type BenchDatabase } from './pgdb.js';
import { LOADGEN_CORE, SERVER_CORE, type ServerProcess } from './processes.js';
import { finishReport } from './report.js';
import { scenarios, type Check, type Scenario } from './scenarios.js';
import { median, percentileOfSorted } from './stats.js';
import { startOurs, type TargetContext } from './targets.js';

export const POSTGRES_SCENARIOS = ['hello0', 'accounts100', 'increment', 'transfers'] as const;
const REPLICAS = [1, 2] as const;
const RUN_OVERHEAD_S = 5;

type PgRecord = {
  scenario: string;
  replicas: number;
  round: number;
  load?: LoadResult;
  peakRssMb: number[];
  checks: Check[];
  failure?: string;
};

export type ModeContext = { machine: string; command: string; resultsDir: string; context: Pick<TargetContext, 'builds' | 'workDir'>; oursNote: string };

export async function runPostgresMode(settings: Settings, mode: ModeContext): Promise<number> {
  const startedAt = performance.now();
  const version = await checkPostgres();
  const selected = scenarios.filter((s) => (POSTGRES_SCENARIOS as readonly string[]).includes(s.name) && (!settings.only || settings.only.includes(s.name)));
  const header = [
    `Machine: ${mode.machine}`,
    `Command: ${mode.command}${mode.oursNote}`,
    `PostgreSQL ${version} at ${PG_ADMIN_URL.replace(/\/[^/]*$/, '')} (not pinned: it may run on either core); a fresh database per run (CREATE DATABASE bench_<random>, dropped after the run).`,
    `Our server with DATABASE_URL on that database and QUEUE_CONCURRENCY=0. Replicas: 1, or 2 server processes on the same database, ` +
      `BOTH pinned to core ${SERVER_CORE} (so 2 replicas share one core: the figure shows the cost of coordination through the database, not added CPU); ` +
      `load generator (autocannon, this process) on core ${LOADGEN_CORE}. With 2 replicas the connections are split in half, one autocannon instance per replica ` +
      `running concurrently; req/s is their sum, p50/p99 are of the merged latencies.`,
    `${settings.rounds} round(s), replica counts alternating; warm-up ${settings.warmupS} s, measured ${settings.durationS} s per run (increment: a fixed number of requests, 200/s x the planned time, split between replicas).`,
  ].join('\n');
  console.log(header);
  const estimate = selected.length * REPLICAS.length * settings.rounds * (RUN_OVERHEAD_S + settings.warmupS + settings.durationS);
  console.log(`Estimated time: ~${Math.ceil(estimate / 60)} min. Logs in ${mode.context.workDir}\n`);

  const records: PgRecord[] = [];
  for (let round = 1; round <= settings.rounds; round += 1) {
    for (const scenario of selected) {
      const order = round % 2 === 1 ? REPLICAS : [...REPLICAS].reverse();
      for (const replicas of order) {
        const record = await runOne(scenario, replicas, round, settings, mode.context);
        records.push(record);
        console.log(progressLine(record));
      }
    }
  }

  const checks = records.flatMap((r) => [
    ...r.checks.map((c) => ({ ...c, name: `${r.scenario} x${r.replicas} round ${r.round}: ${c.name}` })),
    ...(r.failure ? [{ name: `${r.scenario} x${r.replicas} round ${r.round}: ran`, pass: false, detail: r.failure.split('\n')[0] ?? '' }] : []),
  ]);
  const elapsedS = (performance.now() - startedAt) / 1000;
  return finishReport(join(mode.resultsDir, 'postgres.md'), [
    '## Benchmark, PostgreSQL mode',
    '',
    header,
    '',
    renderTable(selected, records),
    '',
    'req/s counts successful responses only (INSUFFICIENT_FUNDS included for transfers, as an accepted outcome); errors are every other GraphQL error, non-2xx response, connection error and timeout over the whole run, warm-up included (sum over rounds); peak RSS is the VmHWM of each replica, max over rounds.',
    '',
  ], checks, elapsedS);
}

async function runOne(scenario: Scenario, replicas: number, round: number, settings: Settings, context: ModeContext['context']): Promise<PgRecord> {
  const record: PgRecord = { scenario: scenario.name, replicas, round, peakRssMb: [], checks: [] };
  let database: BenchDatabase | undefined;
  let servers: ServerProcess[] = [];
  try {
    database = await createDatabase();
    const url = database.url;
    // Started together: the migrator's advisory lock must make them migrate and seed once.
    const started = await Promise.allSettled(
      Array.from({ length: replicas }, (_, index) =>
        startOurs(context, { tag: `pg-${scenario.name}-x${replicas}-r${round}-replica${index + 1}`, databaseUrl: url, queueConcurrency: 0 }),
      ),
    );
    servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const refused = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (refused) throw refused.reason as Error;

    // One checked request per replica before timing.
    for (const server of servers) {
      const first = await postBody(server.url, scenario.body());
      const problem =
        first.status !== 200 ? `status ${first.status}` : first.errors ? 'errors in the body' : !first.data ? 'no data' : scenario.expectData(first.data);
      if (problem) throw new Error(`validation request to ${server.name} failed (${problem}): ${first.text.slice(0, 300)}`);
    }

    const total = scenario.amount?.(settings.warmupS + settings.durationS);
    const loads = await Promise.all(
      servers.map((server, index) =>
        runAutocannon({
          baseUrl: server.url,
          connections: share(scenario.connections, replicas, index),
          warmupS: settings.warmupS,
          measureS: settings.durationS,
          timeoutS: scenario.timeoutS,
          body: scenario.body,
          varies: scenario.varies,
          businessErrors: scenario.businessErrors,
          amount: total === undefined ? undefined : share(total, replicas, index),
        }),
      ),
    );
    const load = combine(loads);
    record.load = load;
    const gone = servers.find((s) => s.exited());
    if (gone) throw new Error(`${gone.name} ended during the load run (${gone.exited()}); its figures are void`);
    record.peakRssMb = servers.map((s) => s.peakRssMb());

    const errors = load.graphqlErrors + load.non2xx + load.transportErrors;
    record.checks.push({
      name: 'no errors but INSUFFICIENT_FUNDS',
      pass: errors === 0,
      detail: `${load.graphqlErrors} GraphQL errors, ${load.non2xx} non-2xx, ${load.transportErrors} transport errors (${load.timeouts} timeouts); ${load.business} INSUFFICIENT_FUNDS${load.errorSamples[0] ? `; sample: ${load.errorSamples[0].slice(0, 200)}` : ''}`,
    });
    // Every replica's validation request succeeded too.
    if (scenario.verify) record.checks.push(...(await scenario.verify(servers[0]!.url, load, load.ok + replicas)));
  } catch (error) {
    record.failure = describeFailure(error, servers);
  } finally {
    await endRun(servers, database, 3000);
  }
  return record;
}

/** `total` split over `parts` as evenly as integers allow. */
const share = (total: number, parts: number, index: number) => Math.floor(total / parts) + (index < total % parts ? 1 : 0);

function combine(loads: readonly LoadResult[]): LoadResult {
  // Merged from every latency of both runs: what autocannon keeps and wrk does not, hence autocannon here.
  const latencies = loads.flatMap((l) => l.latenciesMs).sort((a, b) => a - b);
  const sum = (pick: (l: LoadResult) => number) => loads.reduce((total, l) => total + pick(l), 0);
  return {
    rps: sum((l) => l.rps),
    p50Ms: percentileOfSorted(latencies, 50),
    p99Ms: percentileOfSorted(latencies, 99),
    measured: sum((l) => l.measured),
    firstResponseMaxMs: Math.max(...loads.map((l) => l.firstResponseMaxMs)),
    ok: sum((l) => l.ok),
    business: sum((l) => l.business),
    graphqlErrors: sum((l) => l.graphqlErrors),
    non2xx: sum((l) => l.non2xx),
    transportErrors: sum((l) => l.transportErrors),
    timeouts: sum((l) => l.timeouts),
    errorSamples: loads.flatMap((l) => l.errorSamples).slice(0, 3),
    latenciesMs: latencies,
    generator: 'autocannon',
  };
}

function progressLine(r: PgRecord): string {
  const what = `[round ${r.round}] ${r.scenario.padEnd(12)} ${`${r.replicas} replica${r.replicas > 1 ? 's' : ''}`.padEnd(11)}`;
  if (r.failure) return `${what} FAILED: ${r.failure}`;
  const load = r.load!;
  const errors = load.graphqlErrors + load.non2xx + load.transportErrors;
  const checks = r.checks.map((c) => `; ${c.name}: ${c.pass ? 'PASS' : 'FAIL'} (${c.detail})`).join('');
  return `${what} ${load.rps.toFixed(0).padStart(6)} req/s  p50 ${load.p50Ms.toFixed(1)} ms  p99 ${load.p99Ms.toFixed(1)} ms  errors ${errors}  business ${load.business}  RSS ${r.peakRssMb.map((m) => m.toFixed(0)).join('+')} MB${checks}`;
}

function renderTable(selected: readonly Scenario[], records: readonly PgRecord[]): string {
  const lines = [
    '| scenario | replicas | req/s (median) | p50 (ms) | p99 (ms) | errors | peak RSS per replica (MB) | invariants |',
    '|---|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const scenario of selected) {
    for (const replicas of REPLICAS) {
      const runs = records.filter((r) => r.scenario === scenario.name && r.replicas === replicas);
      if (runs.length === 0) continue;
      const measured = runs.filter((r): r is PgRecord & { load: LoadResult } => r.load !== undefined && !r.failure);
      const errors = runs.reduce((sum, r) => sum + (r.load ? r.load.graphqlErrors + r.load.non2xx + r.load.transportErrors : 0), 0);
      const failed = runs.filter((r) => r.failure).length;
      const rss = Array.from({ length: replicas }, (_, index) => fmt(Math.max(...measured.map((r) => r.peakRssMb[index] ?? Number.NaN)), 0)).join(' / ');
      const checkNames = [...new Set(runs.flatMap((r) => r.checks.map((c) => c.name)))];
      const verdicts = checkNames.map((name) => `${name}: ${runs.every((r) => r.checks.find((c) => c.name === name)?.pass) ? 'PASS' : 'FAIL'}`);
      const business = measured.reduce((sum, r) => sum + r.load.business, 0);
      lines.push(
        `| ${scenario.name}: ${scenario.title} | ${replicas} | ${fmt(median(measured.map((r) => r.load.rps)), 0)} | ${fmt(median(measured.map((r) => r.load.p50Ms)), 1)} | ${fmt(median(measured.map((r) => r.load.p99Ms)), 1)} | ${errors}${failed ? ` (+${failed} failed runs)` : ''} | ${rss} | ${[...verdicts, ...(business ? [`${business} INSUFFICIENT_FUNDS`] : [])].join('; ')} |`,
      );
    }
  }
  return lines.join('\n');
}

const fmt = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
