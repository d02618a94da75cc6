// Where a queue job's time goes, in one process (no HTTP, no subscription): our app (createApp, from
// src/ of this checkout or of DIR) with QUEUE_CONCURRENCY workers on a fresh PostgreSQL database,
// one job of N random transfers among accounts 1..1000 (or 1..--accounts). Prints items/s; CPU per item of this
// process and of its PostgreSQL backends (/proc/<pid>/stat); the statements per batch, by text;
// how many batches were inside all their locks at once (time-weighted mean and most), and how long
// a batch stays inside them: batches that always meet run one after the other, whatever the
// workers, and then hold time / batch size is the time per item. --replicas 2 runs two apps on the
// one database in this process (separate pools, key mutexes and connections, as two replicas have;
// they share this process's core). Run it pinned as the bench pins servers:
//
//   taskset -c 0 npx tsx bench/queue-probe.ts [--concurrency 4] [--items 10000] [--accounts 1000] [--batch 100] [--replicas 1] [--dir DIR]
//
// DIR: another checkout of the repository (with node_modules), for a before/after in one session.
// It prints one JSON line, then the statements.
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Db } from '../src/db/database.js';
import { cpuMsOf } from './cpu-ticks.js';
import { PG_ADMIN_URL } from './pgdb.js';

const { values } = parseArgs({ options: { concurrency: { type: 'string', default: '4' }, items: { type: 'string', default: '10000' }, accounts: { type: 'string', default: '1000' }, replicas: { type: 'string', default: '1' }, batch: { type: 'string' }, dir: { type: 'string', default: resolve(import.meta.dirname, '..') } } });
const dir = resolve(values.dir!);
const concurrency = Number(values.concurrency);
const items = Number(values.items);
const accounts = Number(values.accounts);
const replicas = Number(values.replicas);

/** How many holders at once, time-weighted, and the most. */
class Occupancy {
  #inside = 0;
  #since = performance.now();
  #area = 0;
  most = 0;
  enter(): void {
    this.#tick();
    this.most = Math.max(this.most, ++this.#inside);
  }
  leave(): void {
    this.#tick();
    this.#inside -= 1;
  }
  reset(): void {
    this.#tick();
    this.#area = 0;
  }
  mean(overMs: number): number {
    this.#tick();
    return this.#area / overMs;
  }
  #tick(): void {
    const now = performance.now();
    this.#area += this.#inside * (now - this.#since);
    this.#since = now;
  }
}

const keysHeld = new Occupancy();
let holds = 0;
let heldMs = 0;
// Inside all its locks: the work of TransactionLocks runs after the key mutexes, the connection
// slot and (on PostgreSQL) the advisory locks are all taken, until its transaction ends. A batch
// names more than two keys; a transfer or an increment two or one.
const { TransactionLocks } = (await import(`${dir}/src/locks/transaction-locks.ts`)) as typeof import('../src/locks/transaction-locks.js');
const withLocks = TransactionLocks.prototype.withLocks;
TransactionLocks.prototype.withLocks = function <T>(this: InstanceType<typeof TransactionLocks>, keys: readonly string[], work: (trx: Db) => Promise<T>, options?: { signal?: AbortSignal }): Promise<T> {
  if (keys.length <= 2) return withLocks.call(this, keys, work, options) as Promise<T>;
  let enteredAt = 0;
  const held = (trx: Db): Promise<T> => {
    keysHeld.enter();
    enteredAt = performance.now();
    return work(trx);
  };
  return (withLocks.call(this, keys, held, options) as Promise<T>).finally(() => {
    if (enteredAt === 0) return;
    keysHeld.leave();
    holds += 1;
    heldMs += performance.now() - enteredAt;
  });
};
const { createApp } = (await import(`${dir}/src/app.ts`)) as typeof import('../src/app.js');
const { loadConfig } = (await import(`${dir}/src/config.ts`)) as typeof import('../src/config.js');
const { createPostgresDatabase } = (await import(`${dir}/test/helpers/postgres-database.ts`)) as typeof import('../test/helpers/postgres-database.js');

// Piped into `head`, stdout closes early: the database must still be dropped.
process.stdout.on('error', () => undefined);
const database = await createPostgresDatabase(PG_ADMIN_URL, 'probe');
const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
await admin.connect();
try {
  const statements = new Map<string, number>();
  let batches = 0;
  // The advisory locks' statement carries its values written in: one text for all of them.
  const textOf = (sql: string) => sql.replace(/\s+/g, ' ').trim().replace(/'\d+ms'/, "'…ms'").replace(/'\{[-\d,]*\}'/, "'{…}'").slice(0, 100);
  let finished!: () => void;
  const jobFinished = new Promise<void>((resolve) => (finished = resolve));
  const env = { DATABASE_URL: database.url, QUEUE_CONCURRENCY: String(concurrency), LOG_LEVEL: 'error', ...(values.batch ? { QUEUE_BATCH_SIZE: values.batch } : {}) };
  const apps: Awaited<ReturnType<typeof createApp>>[] = [];
  for (let replica = 0; replica < replicas; replica += 1) {
    apps.push(
      await createApp(loadConfig(env), {
        onQuery: (sql) => {
          statements.set(textOf(sql), (statements.get(textOf(sql)) ?? 0) + 1);
          if (/insert into transfers/i.test(sql)) batches += 1;
        },
        queueHooks: { onJobFinished: () => finished() },
      }),
    );
  }
  const app = apps[0]!;
  try {
    const transfers = Array.from({ length: items }, () => {
      const from = 1 + Math.floor(Math.random() * accounts);
      const to = 1 + ((from + Math.floor(Math.random() * (accounts - 1))) % accounts);
      return { fromId: String(from), toId: String(to), amount: 1 + Math.floor(Math.random() * 10) };
    });
    const backends = async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database.name])).rows.map((row) => row.pid);
    const job = await app.bank.submitJob({ items: transfers });
    statements.clear();
    batches = 0;
    const startedAt = performance.now();
    keysHeld.reset();
    holds = 0;
    heldMs = 0;
    const cpuAtStart = process.cpuUsage();
    const backendsAtStart = new Map((await backends()).map((pid) => [pid, cpuMsOf(pid)]));
    await jobFinished;
    const ms = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuAtStart);
    const postgresMs = [...new Set([...backendsAtStart.keys(), ...(await backends())])].reduce((sum, pid) => sum + cpuMsOf(pid) - (backendsAtStart.get(pid) ?? 0), 0);
    const counted = [...statements].sort((a, b) => b[1] - a[1]);
    const total = counted.reduce((sum, [, count]) => sum + count, 0);
    const row = await app.db.selectFrom('jobs').select(['status', 'done', 'failed']).where('id', '=', job.id).executeTakeFirstOrThrow();
    console.log(
      JSON.stringify({
        dir,
        replicas,
        concurrency,
        accounts,
        batchSize: app.config.queue.batchSize,
        items,
        job: row,
        itemsPerS: Math.round(items / (ms / 1000)),
        serverCpuUsPerItem: Math.round((cpu.user + cpu.system) / items),
        postgresCpuUsPerItem: Math.round((postgresMs * 1000) / items),
        batches,
        statementsPerBatch: +(total / batches).toFixed(1),
        batchesHoldingKeys: { mean: +keysHeld.mean(ms).toFixed(2), most: keysHeld.most },
        msInsideLocksPerBatch: +(heldMs / holds).toFixed(1),
      }),
    );
    for (const [text, count] of counted.slice(0, 20)) console.log(`${(count / batches).toFixed(2).padStart(6)} per batch  ${text}`);
  } finally {
    for (const replica of apps) await replica.close();
  }
} finally {
  await admin.end();
  await database.drop();
}
