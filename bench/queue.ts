// `npm run bench -- --only queue` (or `--mode queue`): how fast the queue drains one job of 10,000
// random transfers among 1,000 accounts, at QUEUE_CONCURRENCY 1, 4 and 16, on SQLite (one process)
// and on PostgreSQL with one and two replicas (both running workers). Timed from the submit response
// to the event of the jobProgress subscription (SSE) that carries the final status. CPU per item:
// the servers' and the PostgreSQL backends' CPU time over that span (/proc/<pid>/stat), divided by
// the items: on a machine with fewer cores than processes, what the throughput on more cores would be.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Settings } from './args.js';
import { GRAPHQL_PATH, queryData, requestBody } from './graphql.js';
import { backendPids, cpuMsOf } from './cpu-ticks.js';
import { checkPostgres, createDatabase, describeFailure, endRun, PG_ADMIN_URL, type BenchDatabase } from './pgdb.js';
import type { ModeContext } from './postgres.js';
import { SERVER_CORE, type ServerProcess } from './processes.js';
import { finishReport } from './report.js';
import { ids, randomTransfer, SEED_ACCOUNTS, SEED_TOTAL, type Check } from './scenarios.js';
import { startOurs } from './targets.js';

/** `spread`: replica i pinned to core i (else every server on SERVER_CORE). */
type Setup = { database: 'sqlite' | 'postgres'; replicas: number; spread?: boolean };
const SETUPS: readonly Setup[] = [
  { database: 'sqlite', replicas: 1 },
  { database: 'postgres', replicas: 1 },
  { database: 'postgres', replicas: 2 },
  // On a machine of two cores PostgreSQL shares them with the servers: what separate cores give
  // is the model in bench/README.md (CPU per item), this row only its direction.
  { database: 'postgres', replicas: 2, spread: true },
];
/** A job that has not finished by then is reported as such (and its figure is void). */
const JOB_TIMEOUT_S = 240;
const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
/** The job's transfers are among accounts 1..ACCOUNTS (issue 15: 1,000). */
const ACCOUNTS = 1000;

type QueueRecord = Setup & {
  concurrency: number;
  round: number;
  items: number;
  bodyBytes?: number;
  seconds?: number;
  events?: number;
  failedItems?: number;
  /** CPU per item, in µs: of the server processes together, and of their PostgreSQL backends. */
  serverCpuUs?: number;
  postgresCpuUs?: number;
  peakRssMb: number[];
  checks: Check[];
  failure?: string;
};

const SUBMIT = 'mutation Submit($items: [TransferInput!]!) { submitTransfers(items: $items) { id status total } }';

export async function runQueueMode(settings: Settings, mode: ModeContext): Promise<number> {
  const startedAt = performance.now();
  const version = await checkPostgres();
  const header = [
    `Machine: ${mode.machine}`,
    `Command: ${mode.command}${mode.oursNote}`,
    `One job of ${settings.items.toLocaleString('en-US')} random transfers among accounts 1..${ACCOUNTS} (amount 1..10), submitted in one request through variables; ` +
      `QUEUE_CONCURRENCY ${settings.concurrency.join(', ')}; SQLite (one process, a fresh file) and PostgreSQL ${version} (a fresh database per run, dropped after; not pinned) ` +
      `with 1 and 2 replicas, both running workers (2 replicas: twice the workers), every server pinned to core ${SERVER_CORE}, and 2 replicas on cores 0 and 1 ("spread"). ` +
      `Timed from the submit response to the jobProgress event (SSE, on replica 1) with the final status; items/s = items / that time. ${settings.rounds} round(s).`,
  ].join('\n');
  console.log(`${header}\nLogs in ${mode.context.workDir}\n`);

  const records: QueueRecord[] = [];
  for (let round = 1; round <= settings.rounds; round += 1) {
    for (const setup of SETUPS) {
      for (const concurrency of settings.concurrency) {
        const record = await runOne(setup, concurrency, round, settings.items, mode.context);
        records.push(record);
        console.log(progressLine(record));
      }
    }
  }

  const checks = records.flatMap((r) => [
    ...r.checks.map((c) => ({ ...c, name: `${label(r)} c=${r.concurrency} round ${r.round}: ${c.name}` })),
    ...(r.failure ? [{ name: `${label(r)} c=${r.concurrency} round ${r.round}: ran`, pass: false, detail: r.failure.split('\n')[0] ?? '' }] : []),
  ]);
  const elapsedS = (performance.now() - startedAt) / 1000;
  return finishReport(join(mode.resultsDir, 'queue.md'), [
    '## Benchmark, queue mode',
    '',
    header,
    '',
    renderTable(records),
    '',
  ], checks, elapsedS);
}

const label = (s: Setup) => (s.database === 'sqlite' ? 'SQLite' : `PostgreSQL x${s.replicas}${s.spread ? ' spread' : ''}`);

async function runOne(setup: Setup, concurrency: number, round: number, items: number, context: ModeContext['context']): Promise<QueueRecord> {
  const record: QueueRecord = { ...setup, concurrency, round, items, peakRssMb: [], checks: [] };
  let database: BenchDatabase | undefined;
  let servers: ServerProcess[] = [];
  const tag = `queue-${setup.database}-x${setup.replicas}${setup.spread ? '-spread' : ''}-c${concurrency}-r${round}`;
  try {
    let url: string;
    if (setup.database === 'postgres') {
      database = await createDatabase();
      url = database.url;
    } else {
      url = `file:${join(context.workDir, `${tag}.sqlite`)}`;
    }
    const started = await Promise.allSettled(
      Array.from({ length: setup.replicas }, (_, index) => startOurs(context, { tag: `${tag}-replica${index + 1}`, databaseUrl: url, queueConcurrency: concurrency, core: setup.spread ? index : undefined })),
    );
    servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const refused = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (refused) throw refused.reason as Error;
    const baseUrl = servers[0]!.url;

    const body = requestBody(SUBMIT, { items: Array.from({ length: items }, () => randomTransfer(ACCOUNTS)) });
    record.bodyBytes = Buffer.byteLength(body);
    const response = await fetch(`${baseUrl}${GRAPHQL_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    const t0 = performance.now();
    // The backends open as the servers start (pools, LISTEN); any opened later count from zero.
    const backendsAtStart = database ? await backendPids(PG_ADMIN_URL, database.name) : [];
    const cpuAtStart = new Map([...servers.map((s) => s.pid), ...backendsAtStart].map((pid) => [pid, cpuMsOf(pid)]));
    const cpuSince = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuMsOf(pid) - (cpuAtStart.get(pid) ?? 0), 0);
    const job = (JSON.parse(text) as { data?: { submitTransfers?: { id: string; total: number } } }).data?.submitTransfers;
    if (response.status !== 200 || !job) throw new Error(`submitTransfers failed with ${response.status}: ${text.slice(0, 300)}`);
    if (job.total !== items) throw new Error(`submitTransfers: total ${job.total}, expected ${items}`);

    const watched = await watchUntilFinal(baseUrl, job.id, JOB_TIMEOUT_S * 1000);
    record.seconds = (watched.finalAt - t0) / 1000;
    record.serverCpuUs = (cpuSince(servers.map((s) => s.pid)) * 1000) / items;
    if (database) record.postgresCpuUs = (cpuSince([...new Set([...backendsAtStart, ...(await backendPids(PG_ADMIN_URL, database.name))])]) * 1000) / items;
    record.events = watched.events;
    const gone = servers.find((s) => s.exited());
    if (gone) throw new Error(`${gone.name} ended during the job (${gone.exited()})`);
    record.peakRssMb = servers.map((s) => s.peakRssMb());

    const data = await queryData(baseUrl, 'query Job($id: ID!) { job(id: $id) { status done failed total } }', { id: job.id });
    const final = data.job as { status: string; done: number; failed: number; total: number };
    record.failedItems = final.failed;
    record.checks.push({ name: 'job SUCCEEDED', pass: final.status === 'SUCCEEDED', detail: `status ${final.status} (subscription said ${watched.status})` });
    record.checks.push({ name: `done = ${items}`, pass: final.done === items, detail: `done ${final.done}, of which failed ${final.failed} (INSUFFICIENT_FUNDS or other refusals)` });
    const balances = ((await queryData(baseUrl, 'query All($ids: [ID!]!) { accounts(ids: $ids) { balance } }', { ids: ids(SEED_ACCOUNTS) })).accounts as { balance: number }[]).map((a) => a.balance);
    const total = balances.reduce((sum, b) => sum + b, 0);
    const negative = balances.filter((b) => b < 0).length;
    record.checks.push({ name: 'money conserved', pass: total === SEED_TOTAL && negative === 0, detail: `total balance of accounts 1..${SEED_ACCOUNTS} = ${total} (expected ${SEED_TOTAL}), ${negative} negative` });
    if (final.failed > 0) {
      const failedItems = await failedItemCodes(baseUrl, job.id, items);
      const other = Object.entries(failedItems).filter(([code]) => code !== 'INSUFFICIENT_FUNDS');
      record.checks.push({ name: 'items failed only with INSUFFICIENT_FUNDS', pass: other.length === 0, detail: JSON.stringify(failedItems) });
    }
  } catch (error) {
    record.failure = describeFailure(error, servers);
  } finally {
    await endRun(servers, database, 5000);
  }
  return record;
}

/**
 * Subscribes to jobProgress over SSE (graphql-sse's distinct-connections mode: a POST with
 * accept: text/event-stream) and resolves at the first event whose status is final, with the
 * time it arrived; reads on to `event: complete` without letting it count.
 */
async function watchUntilFinal(baseUrl: string, jobId: string, timeoutMs: number): Promise<{ finalAt: number; status: string; events: number }> {
  const response = await fetch(`${baseUrl}${GRAPHQL_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: requestBody('subscription Progress($id: ID!) { jobProgress(id: $id) { status done failed } }', { id: jobId }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200 || !response.body) throw new Error(`jobProgress subscription answered ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let events = 0;
  let final: { finalAt: number; status: string } | undefined;
  let last = '';
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const now = performance.now();
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n');
      if (event === 'complete') {
        await reader.cancel();
        if (!final) throw new Error(`the subscription completed without a final status; last event: ${last}`);
        return { ...final, events };
      }
      if (event !== 'next' || !data) continue;
      events += 1;
      last = data;
      const parsed = JSON.parse(data) as { data?: { jobProgress?: { status: string } }; errors?: unknown };
      if (parsed.errors) throw new Error(`jobProgress error: ${data.slice(0, 300)}`);
      const status = parsed.data?.jobProgress?.status;
      if (status && FINAL.includes(status) && !final) final = { finalAt: now, status };
    }
  }
  if (final) return { ...final, events };
  throw new Error(`the subscription ended without a final status; last event: ${last}`);
}

async function failedItemCodes(baseUrl: string, jobId: string, items: number): Promise<Record<string, number>> {
  const codes: Record<string, number> = {};
  for (let offset = 0; offset < items; offset += 1000) {
    const data = await queryData(baseUrl, 'query Items($id: ID!, $offset: Int!) { job(id: $id) { items(limit: 1000, offset: $offset) { status error { code } } } }', { id: jobId, offset });
    for (const item of (data.job as { items: { status: string; error: { code: string } | null }[] }).items) {
      if (item.status === 'FAILED') codes[item.error?.code ?? 'none'] = (codes[item.error?.code ?? 'none'] ?? 0) + 1;
    }
  }
  return codes;
}

function progressLine(r: QueueRecord): string {
  const what = `[round ${r.round}] ${label(r).padEnd(22)} QUEUE_CONCURRENCY ${String(r.concurrency).padEnd(3)}`;
  if (r.failure) return `${what} FAILED: ${r.failure}`;
  const checks = r.checks.map((c) => `; ${c.name}: ${c.pass ? 'PASS' : 'FAIL'} (${c.detail})`).join('');
  return `${what} ${(r.items / r.seconds!).toFixed(0).padStart(6)} items/s  ${r.seconds!.toFixed(1)} s  CPU/item ${cpuPerItem(r)}  body ${(r.bodyBytes! / 1000).toFixed(0)} KB  ${r.events} events  RSS ${r.peakRssMb.map((m) => m.toFixed(0)).join('+')} MB${checks}`;
}

function renderTable(records: readonly QueueRecord[]): string {
  const lines = [
    '| database | replicas (cores) | concurrency (per replica) | items | items/s | seconds | CPU per item: servers + PostgreSQL (µs) | failed items | peak RSS per replica (MB) | checks |',
    '|---|---:|---:|---:|---:|---:|---|---:|---|---|',
  ];
  for (const r of records) {
    const ok = !r.failure && r.seconds !== undefined;
    lines.push(
      `| ${r.database === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${r.replicas} (${r.spread ? Array.from({ length: r.replicas }, (_, i) => i).join(', ') : SERVER_CORE}) | ${r.concurrency} | ${r.items} | ${ok ? (r.items / r.seconds!).toFixed(0) : '-'} | ${ok ? r.seconds!.toFixed(1) : '-'} | ${ok ? cpuPerItem(r) : '-'} | ${r.failedItems ?? '-'} | ${r.peakRssMb.map((m) => m.toFixed(0)).join(' / ') || '-'} | ${r.failure ? `FAILED: ${r.failure.split('\n')[0]!.replaceAll('|', '\\|')}` : r.checks.every((c) => c.pass) ? 'PASS' : 'FAIL'} |`,
    );
  }
  return lines.join('\n');
}

/** "410 + 380 µs": the servers' CPU per item, and the PostgreSQL backends' (none on SQLite). */
function cpuPerItem(r: QueueRecord): string {
  const server = `${(r.serverCpuUs ?? 0).toFixed(0)}`;
  return r.postgresCpuUs === undefined ? `${server} µs` : `${server} + ${r.postgresCpuUs.toFixed(0)} µs`;
}
