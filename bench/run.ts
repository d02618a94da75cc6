// `npm run bench`: starts each server as a child pinned to core 0, loads it from this process
// pinned to core 1, alternating servers over rounds, then prints and saves the table and the bars.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs, type Settings } from './args.js';
import { buildServers } from './build.js';
import { runBurst } from './burst.js';
import { DUEL_PAIRS, runDuels } from './duels.js';
import { postBody, type GraphQLResponse } from './graphql.js';
import { chooseGenerator, runLoad, wrkCanRun, type Generator, type LoadResult } from './loadgen.js';
import { describeMachine, readListenOverflows } from './machine.js';
import { dropLeftoverDatabasesSync } from './pgdb.js';
import { POSTGRES_SCENARIOS, runPostgresMode } from './postgres.js';
import { runQueueMode } from './queue.js';
import {
  ensureOpenFilesLimit, killAllServers, LOADGEN_CORE, pinSelfToLoadgenCore, SERVER_CORE, tail, type ServerProcess, type WindowFigures,
} from './processes.js';
import { barsPass, evaluateBars, renderBars, renderDetails, renderTable, summarize, type RunRecord } from './report.js';
import { scenarios, TRUSTED_DOCUMENTS, type Scenario } from './scenarios.js';
import { SERVER_LABELS, startTarget, type ServerKind, type TargetContext } from './targets.js';
import { prepareTemplateDb, TEMPLATE_TRANSFER_ACCOUNTS, TEMPLATE_TRANSFERS } from './template-db.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');
/**
 * BENCH_OURS_DIR: build our server from another copy of the repository (a snapshot with node_modules
 * linked) instead of this one. Either way it is compiled once, at the start (see build.ts).
 */
const oursDir = resolve(process.env.BENCH_OURS_DIR || repoDir);
/** Process start, sub-second boot and shutdown, per run; used only for the time estimate. */
const RUN_OVERHEAD_S = 3;
/** Open files a burst needs besides its sockets, on either side. */
const SPARE_FILES = 1000;

async function main(): Promise<number> {
  const startedAt = performance.now();
  const settings = parseArgs(process.argv.slice(2), { default: scenarios.map((s) => s.name), postgres: POSTGRES_SCENARIOS, queue: ['queue'] });
  const selected = scenarios.filter((s) => !settings.only || settings.only.includes(s.name));
  const machine = describeMachine();
  pinSelfToLoadgenCore();

  const workDir = mkdtempSync(join(tmpdir(), 'graphql-bench-'));
  installCleanup(workDir);
  console.log(`Building our server (tsc -p tsconfig.build.json) from ${oursDir} into ${workDir}...`);
  const builds = buildServers({ oursDir, benchDir, workDir });

  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const resultsDir = join(benchDir, 'results');
  if (settings.mode !== 'default') {
    // These modes write results/postgres.md and results/queue.md; latest.md stays the default run's.
    mkdirSync(resultsDir, { recursive: true });
    const mode = { machine, command, resultsDir, context: { builds, workDir }, oursNote: oursDir === repoDir ? '' : ` (our server from BENCH_OURS_DIR=${oursDir})` };
    return settings.mode === 'postgres' ? runPostgresMode(settings, mode) : runQueueMode(settings, mode);
  }
  const generator = chooseGenerator(settings.loadgen);
  const header = [
    `Machine: ${machine}`,
    `Command: ${command}${oursDir === repoDir ? '' : ` (our server from BENCH_OURS_DIR=${oursDir})`}`,
    `Servers pinned to core ${SERVER_CORE} (taskset), load generator (${describeGenerator(generator, settings, selected)}) to core ${LOADGEN_CORE}; ` +
      `${settings.rounds} round(s), servers alternating; warm-up ${settings.warmupS} s${warmupOverrides(selected)}, measured ${settings.durationS} s per run; ` +
      `a fresh server process, on a fresh copy of one database, per scenario, server and round.`,
    `Our server compiled (tsc, once) and run with plain node, as npm start runs it; the peers run under tsx. ` +
      `The database: our migrations and seed (accounts 1..1000), then ${TEMPLATE_TRANSFERS} random transfers among accounts 1..${TEMPLATE_TRANSFER_ACCOUNTS} made through our API.`,
  ].join('\n');
  console.log(header);
  console.log(`Estimated time: ~${Math.ceil(estimateSeconds(selected, settings) / 60)} min. Logs in ${workDir}\n`);

  const profileDir = settings.profile ? join(resultsDir, 'profiles') : undefined;
  if (profileDir) console.log(`Profiling our server: .cpuprofile files go to ${profileDir}\n`);
  const context: TargetContext = { repoDir, workDir, builds, templateDb: await prepareTemplateDb({ builds, workDir }), profileDir };
  const trustedDocumentsFile = join(workDir, 'persisted-documents.json');
  writeFileSync(trustedDocumentsFile, JSON.stringify(TRUSTED_DOCUMENTS, null, 2));
  const records: RunRecord[] = [];
  for (let round = 1; round <= settings.rounds; round += 1) {
    for (const scenario of selected) {
      for (const server of rotate(scenario.servers, round - 1)) {
        const record = await runOne(scenario, server, round, settings, generator, context, trustedDocumentsFile);
        records.push(record);
        console.log(progressLine(record));
      }
    }
  }

  // Issue 13's pairs once more, each pair's two servers at the same moment (duels.ts); with wrk only.
  const duels =
    generator === 'wrk'
      ? await runDuels({ repoDir, buildDir: join(builds.oursRunDir, 'dist'), flagsDir: builds.oursRunDir, selected: selected.map((s) => s.name), rounds: settings.rounds, seconds: settings.durationS })
      : [];

  const rows = summarize(selected, records);
  const bars = evaluateBars(rows, records, duels);
  const elapsed = `Elapsed: ${((performance.now() - startedAt) / 60_000).toFixed(1)} min (${Math.round((performance.now() - startedAt) / 1000)} s)`;
  const report = [
    '## Benchmark',
    '',
    header,
    '',
    renderTable(rows),
    '',
    'req/s counts successful responses only (summed per-connection rates in the measured window); p50/p99 are latencies of the responses ' +
      'in the measured window, leaving out each connection\'s first response (it includes the TCP handshake); errors are GraphQL errors, non-2xx ' +
      'responses, connection errors and timeouts over the whole run (warm-up included); peak RSS is the server process\'s VmHWM, max over rounds; ' +
      'GC share (total GC pause / wall time) and event-loop delay p99 are measured inside the server over the measured window, medians over rounds; ' +
      'ratios are medians of per-round ratios. hello10k is one burst per run: every request on its own connection, all of them sent at once, ' +
      'req/s = answers / (last answer - first request), p50/p99 over all of them (handshakes included), the burst is the measured window.',
    '',
    '### Bars',
    '',
    '```',
    renderBars(bars),
    '```',
    '',
    '### Every run',
    '',
    renderDetails(records),
    '',
    ...(duels.length > 0
      ? [
          '### Duels (bench/duel.sh: A and B at the same moment on one core, each in a cpu cgroup of equal shares, each loaded by its own wrk)',
          '',
          ...duels.flatMap((duel) => [`${duel.pair.scenario} (A: ${duel.pair.a}) / ${duel.pair.reference} (B: ${duel.pair.b || 'the defaults'}):`, '', '```', duel.output.trim(), '```', '']),
        ]
      : []),
    elapsed,
    '',
  ].join('\n');
  console.log(`\n${report}`);

  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'latest.md'), report);
  console.log(`Written to ${join(resultsDir, 'latest.md')}`);
  return barsPass(bars) ? 0 : 1;
}

/** One fresh server, validated once, loaded, measured and checked; never throws. */
async function runOne(
  scenario: Scenario, kind: ServerKind, round: number, settings: Settings, generator: Generator, context: TargetContext, trustedDocumentsFile: string,
): Promise<RunRecord> {
  const record: RunRecord = { scenario: scenario.name, server: kind, round, checks: [], notes: [] };
  let server: ServerProcess | undefined;
  const overflowsBefore = readListenOverflows();
  const oursEnv = { ...scenario.oursEnv, ...(scenario.trustedDocuments ? { TRUSTED_DOCUMENTS: trustedDocumentsFile } : {}) };
  try {
    server = await startTarget(kind, context, { tag: `${scenario.name}-${kind}-r${round}`, delayMs: scenario.bareDelayMs, oursEnv });

    // One request first, checked in full: a server that answers with errors must not score throughput.
    const first = await postBody(server.url, scenario.body(), scenario.headers);
    const problem = first.status !== 200 ? `status ${first.status}` : (problemWithData(scenario, first) ?? problemWithHeaders(scenario, first.headers));
    if (problem) throw new Error(`validation request failed (${problem}): ${first.text.slice(0, 300)}`);

    const { load, probe } = await measure(scenario, server, settings, generator);
    record.load = load;
    record.probe = probe;
    const gone = server.exited();
    if (gone) throw new Error(`the server process ended during the load run (${gone}); its figures are void`);
    // Evidence for slow first responses: a burst of new connections overflowing the accept queue.
    const overflows = readListenOverflows() - overflowsBefore;
    if (overflows > 0) {
      // A burst's latencies are all first responses, in p50/p99 already.
      const slowest = scenario.burst || !Number.isFinite(load.firstResponseMaxMs) ? '' : `; slowest first response of a connection ${load.firstResponseMaxMs.toFixed(0)} ms (not in p50/p99)`;
      record.notes.push(`${overflows} listen-queue overflows${slowest}`);
    }
    if (scenario.verify) record.checks.push(...(await scenario.verify(server.url, load, load.ok + 1)));
    record.peakRssMb = server.peakRssMb();
  } catch (error) {
    record.failure = `${(error as Error).message}${server ? `\n--- ${server.logFile} ---\n${tail(server.logFile)}` : ''}`;
  } finally {
    // A profiled server needs time to write its profile on its way out.
    await server?.stop(context.profileDir ? 15_000 : 3000);
  }
  return record;
}

/** Loads the server as the scenario says, with the server's probe measuring the same window. */
async function measure(scenario: Scenario, server: ServerProcess, settings: Settings, generator: Generator): Promise<{ load: LoadResult; probe?: WindowFigures }> {
  let probe: Promise<WindowFigures | undefined> | undefined;
  const windowHooks = { onWindowStart: () => server.startWindow(), onWindowEnd: () => void (probe = server.endWindow()) };
  if (scenario.burst) {
    // One socket per request on both sides: more than a default limit of 1,024 open files.
    for (const pid of [process.pid, server.pid]) ensureOpenFilesLimit(pid, scenario.burst + SPARE_FILES);
    const load = await runBurst({
      baseUrl: server.url,
      count: scenario.burst,
      body: scenario.body(),
      // hello's delay, which the bare server's stand-in mirrors.
      delayMs: scenario.bareDelayMs ?? 0,
      timeoutS: scenario.timeoutS,
      check: (text) => problemWithData(scenario, parseResponse(text)),
      ...windowHooks,
    });
    return { load, probe: await probe };
  }
  const warmupS = scenario.warmupS ?? settings.warmupS;
  const load = await runLoad(generator, {
    baseUrl: server.url,
    connections: scenario.connections,
    warmupS,
    measureS: settings.durationS,
    timeoutS: scenario.timeoutS,
    headers: scenario.headers,
    body: scenario.body,
    varies: scenario.varies,
    unique: scenario.unique,
    businessErrors: scenario.businessErrors,
    amount: scenario.amount?.(warmupS + settings.durationS),
    ...windowHooks,
  });
  return { load, probe: await probe };
}

/** What is wrong with a 200 response's GraphQL result, or null when it carries the expected data. */
const problemWithData = (scenario: Scenario, response: Pick<GraphQLResponse, 'data' | 'errors'>): string | null =>
  response.errors ? 'errors in the body' : !response.data ? 'no data' : scenario.expectData(response.data);

/** What is wrong with the response headers a scenario expects (CORS for a browser), or null. */
function problemWithHeaders(scenario: Scenario, headers: Headers): string | null {
  const wrong = Object.entries(scenario.expectHeaders ?? {}).find(([name, value]) => headers.get(name) !== value);
  return wrong ? `${wrong[0]} is ${JSON.stringify(headers.get(wrong[0]))}, expected ${JSON.stringify(wrong[1])}` : null;
}

/**
 * The header's account of the load generator: wrk in a process of its own, or autocannon in this
 * one, said loudly when it is a fallback; and the runs that stay with autocannon whatever it is.
 */
function describeGenerator(generator: Generator, settings: Settings, selected: readonly Scenario[]): string {
  const withAutocannon = selected.filter((s) => !s.burst && !wrkCanRun({ amount: s.amount?.(1), connections: s.connections })).map((s) => s.name);
  const exceptions = generator === 'wrk' && withAutocannon.length > 0 ? `; ${withAutocannon.join(', ')}: autocannon (a fixed number of requests, or more connections than wrk opens at once without overflowing the listen queue)` : '';
  if (generator === 'wrk') return `wrk, one thread, a process of its own pinned with taskset${exceptions}`;
  return settings.loadgen === 'autocannon'
    ? 'autocannon, this process, as asked by --loadgen'
    : 'autocannon, this process: WRK IS NOT INSTALLED (apt-get install wrk), and autocannon on one core caps the fastest servers at about half their rate';
}

function parseResponse(text: string): Pick<GraphQLResponse, 'data' | 'errors'> {
  try {
    return JSON.parse(text) as Pick<GraphQLResponse, 'data' | 'errors'>;
  } catch {
    return {};
  }
}

function progressLine(r: RunRecord): string {
  const what = `[round ${r.round}] ${r.scenario.padEnd(15)} ${SERVER_LABELS[r.server].padEnd(24)}`;
  if (r.failure) return `${what} FAILED: ${r.failure}`;
  const load = r.load!;
  const errors = load.graphqlErrors + load.non2xx + load.transportErrors;
  const checks = [...r.checks.map((c) => `${c.name}: ${c.pass ? 'PASS' : 'FAIL'} (${c.detail})`), ...r.notes].map((text) => `; ${text}`).join('');
  const probe = r.probe ? `  GC ${(r.probe.gcShare * 100).toFixed(1)}%  ELD p99 ${r.probe.eventLoopDelayP99Ms.toFixed(1)} ms` : '';
  const burst = load.burst ? `  answered ${load.burst.answered}/${load.burst.requests} (peak waits ≈ ${load.burst.peakConcurrentWaits})` : '';
  return `${what} ${load.rps.toFixed(0).padStart(6)} req/s  p50 ${load.p50Ms.toFixed(1)} ms  p99 ${load.p99Ms.toFixed(1)} ms  errors ${errors}  business ${load.business}  RSS ${r.peakRssMb?.toFixed(1)} MB${probe}${burst}${checks}`;
}

const warmupOverrides = (selected: readonly Scenario[]) =>
  selected.filter((s) => s.warmupS !== undefined).map((s) => ` (${s.name}: ${s.warmupS} s)`).join('');

/** Round r starts with a different server, so that no server always runs first (or last). */
const rotate = <T>(items: readonly T[], by: number): T[] => items.map((_, index) => items[(index + by) % items.length]!);

function estimateSeconds(selected: readonly Scenario[], settings: Settings): number {
  const runSeconds = (s: Scenario) =>
    // A burst lasts about its delay plus the time to send it and drain it.
    s.burst ? (s.bareDelayMs ?? 0) / 1000 + 5 : (s.warmupS ?? settings.warmupS) + settings.durationS + (s.amount ? 2 : 0);
  const perRound = selected.reduce((sum, s) => sum + s.servers.length * (RUN_OVERHEAD_S + runSeconds(s)), 0);
  const names = selected.map((s) => s.name);
  // A duel's round: both servers start, 2 s of warm-up, the measured seconds.
  const duelRounds = DUEL_PAIRS.filter((p) => names.includes(p.scenario) && names.includes(p.reference)).length * settings.rounds;
  return perRound * settings.rounds + duelRounds * (RUN_OVERHEAD_S + 2 + settings.durationS) + RUN_OVERHEAD_S;
}

/** Children die with the bench, whether it finishes, throws or is interrupted. */
function installCleanup(workDir: string): void {
  process.once('exit', (code) => {
    killAllServers();
    dropLeftoverDatabasesSync();
    // Databases and server logs are kept when something failed, for the post-mortem.
    if (code === 0) rmSync(workDir, { recursive: true, force: true });
    else console.error(`Server logs and databases kept in ${workDir}`);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the servers.`);
      process.exit(130);
    });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
