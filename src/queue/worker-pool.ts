import type { Logger } from '../observability/logger.js';
import { Mutex } from 'async-mutex';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import type { BatchResult } from '../bank/job-items.js';
import type { Db, JobItemRow, JobRow, JobStatus } from '../db/database.js';
import {
  claimItemsApart,
  claimItemsOfJob,
  deleteFinishedJobs,
  exhaustItem,
  findActiveJobIds,
  heartbeat,
  markJobRunning,
  recoverAbandonedItems,
  releaseItems,
  removeWorker,
} from '../db/jobs.js';
import { isDatabaseBusy, isDatabaseUnavailable } from '../db/unavailable.js';
import { LockTimeoutError } from '../locks/errors.js';
import type { JobEvents } from './job-events.js';

export type WorkerPoolOptions = {
  /** Where an item that fails unexpectedly is logged (with its stack: a bug, or a fault injected by a test). */
  logger: Logger;
  /** Batches this process runs at once (QUEUE_CONCURRENCY); 0: this process runs no workers. */
  concurrency: number;
  /** Items a worker claims and applies in one transaction at most (QUEUE_BATCH_SIZE). */
  batchSize: number;
  /** Simulated work per item, outside its locks and transaction (QUEUE_ITEM_WORK_MS). */
  itemWorkMs: number;
  /** Attempts an item whose application throws unexpectedly gets before it fails ATTEMPTS_EXHAUSTED (QUEUE_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** The wait before the second attempt; it doubles for each one after, up to an hour (QUEUE_RETRY_BASE_MS). */
  retryBaseMs: number;
  /** How long finished jobs and their items are kept before they are deleted (QUEUE_RETENTION). */
  retentionMs: number;
  /**
   * `exclusive`: this process is the only one on the database (SQLite), so at start every claim of
   * an earlier process is void. `shared` (PostgreSQL): a claim is void once its worker has not
   * heartbeaten for `leaseMs`.
   */
  ownership: 'exclusive' | 'shared';
  leaseMs?: number;
  /**
   * Claims prefer items whose accounts are apart from the running items' (claimItemsApart), so that
   * batches run at once: PostgreSQL. SQLite runs one transaction at a time, so nothing is gained there.
   */
  claimApart?: boolean;
  /** How often an idle worker looks for work without being told (a lost notification costs this). */
  pollMs?: number;
  /**
   * Called for every item that ends in this process (SUCCEEDED, or FAILED: refused, or out of
   * attempts), with the attempts it took and the time its last attempt took; for metrics. Costs
   * nothing when unset.
   */
  onItemDone?: (status: 'SUCCEEDED' | 'FAILED', attempts: number, durationMs: number) => void;
  /** Called when an item of this process ends its job, with the job's final status and its time from submission. */
  onJobFinished?: (status: JobStatus, durationMs: number) => void;
};

/**
 * What a worker does with a batch of claimed items of one job: apply them and record their
 * outcomes, all in one transaction (src/bank/job-items.ts). Returns what the batch left, or
 * undefined if the claims were voided meanwhile; throws when the batch could not be run now, or
 * when `signal` aborts first (nothing of it is then written).
 */
export type ItemHandler = (items: readonly JobItemRow[], workerId: string, signal: AbortSignal) => Promise<BatchResult | undefined>;

/** How many unfinished jobs the workers take turns on; jobs past this wait for one of them to finish. */
const MAX_JOBS_IN_TURN = 100;
/** Retention's work per statement and per round: small, so that it never holds the database long. */
const RETENTION_BATCH_ITEMS = 1_000;
const RETENTION_JOBS_PER_ROUND = 10;
const RETENTION_EVERY_MS = 60_000;
const MAX_BACKOFF_MS = 3_600_000;
/**
 * A claim apart reads the first 4 batches' worth of pending items, and settles for half a batch of
 * them (bench/README.md, the queue's model: a window of 2 or 8 batches, or a quarter of a batch,
 * ran no more batches at once, and smaller batches cost more per item).
 */
const APART_WINDOW_BATCHES = 4;
const APART_SHARE_OF_BATCH = 0.5;
/** Batches claimed as the first items, which may wait for running ones, a process runs at once: one waiting in line behind one running. */
const MAX_MEETING_BATCHES = 2;

/**
 * Whether a batch names few distinct accounts for its items: fewer than 0.8 per end of a transfer.
 * Random transfers among a thousand accounts name ~0.9 per end in a batch of 100 (181 accounts, 18 %
 * of them: several such batches can be apart); among a hundred, ~0.43 (87 accounts: a batch names
 * nearly all, and no two are ever apart). 0.8 is about 500 accounts, where three batches of 100
 * name most of them. Too few items to tell (under 20) count as many accounts.
 */
function namesFewAccounts(items: readonly JobItemRow[]): boolean {
  if (items.length < 20) return false;
  const accounts = new Set<string>();
  for (const item of items) accounts.add(item.from_id).add(item.to_id);
  return accounts.size < 0.8 * 2 * items.length;
}

/**
 * A claimed batch, and whether it counts among the batches of this process that may meet running
 * ones (#meetingBatches: the first items, claimed by a claim apart); or a wait for a batch of this
 * process to end.
 */
type Claim = { items: JobItemRow[]; meets: boolean } | typeof WAIT_FOR_A_BATCH;
const WAIT_FOR_A_BATCH = Symbol('wait for a batch');
const NOTHING: Claim = { items: [], meets: false };

/**
 * A fixed pool of async workers that take job items from the database and hand them to the item
 * handler, a batch (of one job, up to `batchSize` items) at a time, the jobs in turn so that a
 * long job does not hold back one submitted after it. Durable: claims live in the database, and a
 * claim whose worker dies (its process killed) is voided (at the next start on SQLite; when its
 * heartbeat goes stale on PostgreSQL), so another worker runs the item from the start. Idle workers
 * sleep until a job is submitted, here or (by NOTIFY) on another replica, or until their poll.
 */
export class WorkerPool {
  readonly workerId = randomUUID();
  #stopping = false;
  /** Aborted when a stop's time is up: running batches roll back and are handed back. */
  readonly #abort = new AbortController();
  /** Counts wake-ups, so that a worker woken while it was claiming does not go to sleep. */
  #wakes = 0;
  /** The idle workers' wake-up calls: each idle wait has its own, removed when it ends. */
  readonly #sleepers = new Set<() => void>();
  #workers: Promise<void>[] = [];
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  #running = 0;
  /** Whose turn it is among the unfinished jobs; shared by this process's workers. */
  #turn = 0;
  /** The unfinished jobs as last read, with the wake-up count and the time of the read. */
  #activeJobs: { ids: number[]; wakes: number; readAt: number } | undefined;
  /** The last job this process marked RUNNING (QUEUED → RUNNING happens once per job). */
  #jobMarkedRunning: number | undefined;
  /** One claim at a time in this process, so that each sees the items the one before it took as running. */
  readonly #claiming = new Mutex();
  /** Jobs whose last batch named few accounts (namesFewAccounts), by id: plain claims serve them. */
  readonly #fewAccounts = new Map<number, boolean>();
  /** Batches of this process claimed as the first items, not apart from the running ones: MAX_MEETING_BATCHES at most, but see #claimApart. */
  #meetingBatches = 0;
  /** This process's batches in flight, by job: a job with none may always take its first items. */
  readonly #batchesOfJob = new Map<number, number>();
  /** The accounts of this process's claimed batches, each with the number of batches naming it. */
  readonly #ownAccounts = new Map<string, number>();
  /** Workers waiting for a batch of this process to end, to claim again, and the batches ended so far. */
  readonly #batchEndWaiters = new Set<() => void>();
  #batchEnds = 0;
  /** The most batches this process has run at once; tests check it against the concurrency. */
  maxRunning = 0;

  constructor(
    private readonly db: Db,
    private readonly events: JobEvents,
    private readonly handle: ItemHandler,
    private readonly options: WorkerPoolOptions,
  ) {}

  async start(): Promise<void> {
    if (this.options.concurrency === 0) return;
    const leaseMs = this.options.leaseMs ?? 10_000;
    await heartbeat(this.db, this.workerId);
    await this.#recover(this.options.ownership === 'exclusive' ? new Date() : new Date(Date.now() - leaseMs));
    if (this.options.ownership === 'shared') {
      // Heartbeat, and void the claims of replicas that stopped heartbeating.
      this.#every(leaseMs / 5, () => heartbeat(this.db, this.workerId).then(() => this.#recover(new Date(Date.now() - leaseMs))));
    }
    this.#every(Math.min(RETENTION_EVERY_MS, this.options.retentionMs), () => this.deleteExpiredJobs());
    this.#unsubscribe = this.events.onWorkAdded(() => this.#wakeUp());
    this.#workers = Array.from({ length: this.options.concurrency }, () => this.#work());
  }

  /** A job was submitted in this process: wake the idle workers (other replicas hear it by NOTIFY). */
  notifyWorkAdded(): void {
    this.#wakeUp();
    this.events.publishWorkAdded();
  }

  /** Stops taking new items; the running ones go on. */
  requestStop(): void {
    this.#stopping = true;
    this.#wakeUp();
  }

  /**
   * Stops taking items, and waits up to `timeoutMs` for the running ones to finish. Batches still
   * running then are aborted: their transactions roll back and their items are handed back, for
   * the next start (or another replica) to run once. Resolves when every worker has ended, so the
   * database can be closed after it.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.requestStop();
    this.#unsubscribe?.();
    let timer: NodeJS.Timeout | undefined;
    const workers = Promise.all(this.#workers);
    const finished = await Promise.race([workers.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)))]);
    clearTimeout(timer);
    if (!finished) {
      this.#abort.abort(new Error(`The queue's workers were stopped: SHUTDOWN_TIMEOUT_MS (${timeoutMs} ms) passed.`));
      await workers;
    }
    // Heartbeats went on until now, so that no other replica took the running items back meanwhile.
    for (const timer of this.#timers) clearInterval(timer);
    await removeWorker(this.db, this.workerId).catch(() => undefined);
  }

  /**
   * Deletes what finished longer than QUEUE_RETENTION ago, a few jobs at a time in small batches
   * of items; run every minute (or every QUEUE_RETENTION, if shorter). Returns the jobs deleted.
   */
  async deleteExpiredJobs(): Promise<number> {
    const finishedBefore = new Date(Date.now() - this.options.retentionMs);
    let deleted = 0;
    for (;;) {
      if (this.#stopping) return deleted;
      const round = await deleteFinishedJobs(this.db, { finishedBefore, batchSize: RETENTION_BATCH_ITEMS, maxJobs: RETENTION_JOBS_PER_ROUND });
      deleted += round;
      if (round < RETENTION_JOBS_PER_ROUND) return deleted;
    }
  }

  /** Runs `task` every `ms`, without keeping the process alive; a failure waits for the next round. */
  #every(ms: number, task: () => Promise<unknown>): void {
    const timer = setInterval(() => void task().catch(() => undefined), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  async #recover(aliveSince: Date): Promise<void> {
    const { recovered, ended } = await recoverAbandonedItems(this.db, this.workerId, aliveSince);
    this.#ended(ended);
    if (recovered > 0) this.#wakeUp();
  }

  #wakeUp(): void {
    this.#wakes += 1;
    for (const wake of [...this.#sleepers]) wake();
    if (this.#stopping) this.#batchEnded();
  }

  #batchEnded(): void {
    this.#batchEnds += 1;
    for (const wake of [...this.#batchEndWaiters]) wake();
    this.#batchEndWaiters.clear();
  }

  /**
   * Resolves when a batch of this process ends (one is running: a claim waits only then), at once
   * if one ended since `endsSeen` (while the claim that said to wait ran), or at a stop.
   */
  #untilBatchEnds(endsSeen: number): Promise<void> {
    if (this.#stopping || this.#batchEnds !== endsSeen) return Promise.resolve();
    return new Promise((resolve) => this.#batchEndWaiters.add(resolve));
  }

  /** Waits until woken or `ms` pass; returns at once if a wake-up came since `wakesSeen`. */
  #idle(ms: number, wakesSeen: number): Promise<void> {
    if (this.#wakes !== wakesSeen || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  async #work(): Promise<void> {
    while (!this.#stopping) {
      const wakesSeen = this.#wakes;
      const batchEndsSeen = this.#batchEnds;
      let claim: Claim;
      try {
        claim = await this.#claim();
      } catch {
        // The database is away: look again a little later.
        await this.#idle(1_000, wakesSeen);
        continue;
      }
      if (claim === WAIT_FOR_A_BATCH) {
        await this.#untilBatchEnds(batchEndsSeen);
        continue;
      }
      const { items: batch, meets } = claim;
      if (batch.length === 0) {
        await this.#idle(this.options.pollMs ?? 1_000, wakesSeen);
        continue;
      }
      this.#running += 1;
      this.maxRunning = Math.max(this.maxRunning, this.#running);
      try {
        await this.#run(batch);
      } finally {
        this.#running -= 1;
        if (meets) this.#meetingBatches -= 1;
        if (this.options.claimApart) this.#countBatch(batch, -1);
        this.#batchEnded();
      }
      // better-sqlite3 answers synchronously, so claim → apply → claim is a chain of resolved
      // promises that would never let the event loop serve a request: yield after every batch.
      await setImmediate();
    }
  }

  /**
   * A batch of the next job in turn that has items to run: each claim moves the turn on, so two
   * jobs pending at once both progress, whatever their sizes and whichever came first.
   */
  async #claim(): Promise<Claim> {
    const jobs = await this.#activeJobIds();
    for (let tried = 0; tried < jobs.length && !this.#stopping; tried += 1) {
      const jobId = jobs[this.#turn++ % jobs.length]!;
      const claim = this.options.claimApart
        ? await this.#claiming.runExclusive(async () => {
            if (this.#stopping) return NOTHING;
            const claim = await this.#claimApart(jobId);
            // Counted before the next claim of this process, which passes over them.
            if (claim !== WAIT_FOR_A_BATCH && claim.items.length > 0) this.#countBatch(claim.items, 1);
            return claim;
          })
        : { items: await claimItemsOfJob(this.db, this.workerId, jobId, this.options.batchSize), meets: false };
      if (claim === WAIT_FOR_A_BATCH || claim.items.length > 0) return claim;
      // A job with nothing to claim may have ended: read the list again next time.
      this.#activeJobs = undefined;
    }
    return NOTHING;
  }

  /**
   * A batch of items apart from the running ones if the window holds enough, else the first items,
   * as a plain claim takes them. Those may meet running batches and wait for their locks; while
   * MAX_MEETING_BATCHES of this process's do, a worker waits for one of its batches to end rather
   * than claim more of them: a batch that waits holds its claim, and its accounts count as busy for
   * every claim after it, which would then find nothing apart. A job none of whose batches is in
   * flight here takes its first items all the same: else a job among few accounts, whose batches
   * are all first items, would keep that bound reached, and a job submitted after it would wait for
   * its end (found in review: a job of 10 after one of 10,000 among 100 accounts).
   *
   * Where few accounts make every batch meet the running ones (among a hundred accounts a batch
   * names nearly all), the window would be read in vain and the waits would gain nothing: a job
   * whose last batch named few accounts for its items (namesFewAccounts) is claimed plainly, as if
   * there were no window, until a batch of it names many. That is read off the claimed items
   * themselves, so it costs no statement.
   */
  async #claimApart(jobId: number): Promise<Claim> {
    const { batchSize } = this.options;
    const plain = async (items?: JobItemRow[]): Promise<Claim> => {
      items ??= await claimItemsOfJob(this.db, this.workerId, jobId, batchSize);
      if (items.length > 0) {
        this.#meetingBatches += 1;
        this.#fewAccounts.set(jobId, namesFewAccounts(items));
      }
      return { items, meets: true };
    };
    if (this.#fewAccounts.get(jobId)) return plain();
    const mayMeet = this.#meetingBatches < MAX_MEETING_BATCHES || !this.#batchesOfJob.has(jobId);
    const { items, apart } = await claimItemsApart(this.db, this.workerId, jobId, batchSize, {
      window: APART_WINDOW_BATCHES * batchSize,
      threshold: Math.ceil(APART_SHARE_OF_BATCH * batchSize),
      orFirst: mayMeet,
      ownAccounts: [...this.#ownAccounts.keys()],
    });
    if (apart && items.length > 0) {
      this.#fewAccounts.set(jobId, namesFewAccounts(items));
      return { items, meets: false };
    }
    if (!mayMeet) return WAIT_FOR_A_BATCH;
    // None at all: the job may have none left, or a claim took the chosen ones at the same moment.
    return plain(items.length > 0 ? items : undefined);
  }

  /** Counts a batch claimed (1) or ended (-1) of this process: its job's batches, and its accounts'. */
  #countBatch(items: readonly JobItemRow[], change: 1 | -1): void {
    countIn(this.#batchesOfJob, items[0]!.job_id, change);
    for (const account of new Set(items.flatMap((item) => [item.from_id, item.to_id]))) countIn(this.#ownAccounts, account, change);
  }

  /**
   * The unfinished jobs, as read at most a poll ago: the list changes when a job is submitted (a
   * wake-up, here or by NOTIFY, which voids it) or ends (a claim that finds nothing, which voids
   * it too), so a read per claim would mostly find the same list. A lost NOTIFY costs a poll.
   */
  async #activeJobIds(): Promise<number[]> {
    const cached = this.#activeJobs;
    if (cached && cached.wakes === this.#wakes && performance.now() - cached.readAt < (this.options.pollMs ?? 1_000)) return cached.ids;
    const read = { wakes: this.#wakes, readAt: performance.now(), ids: await findActiveJobIds(this.db, MAX_JOBS_IN_TURN) };
    this.#activeJobs = read;
    for (const jobId of this.#fewAccounts.keys()) if (!read.ids.includes(jobId)) this.#fewAccounts.delete(jobId);
    return read.ids;
  }

  async #run(batch: readonly JobItemRow[]): Promise<void> {
    const signal = this.#abort.signal;
    const startedAt = performance.now();
    const jobId = batch[0]!.job_id;
    try {
      if (this.#jobMarkedRunning !== jobId) {
        await markJobRunning(this.db, jobId);
        this.#jobMarkedRunning = jobId;
      }
      if (this.options.itemWorkMs > 0) await sleep(this.options.itemWorkMs * batch.length, undefined, { signal });
      const result = await this.handle(batch, this.workerId, signal);
      if (result) this.#finished(result, startedAt);
    } catch (error) {
      const ids = batch.map((item) => item.id);
      if (signal.aborted || isTransient(error)) {
        // Not run now, and not the items' fault: a forceful stop, a lock not granted in time, the
        // database away or its pool busy, a deadlock PostgreSQL broke. Hand them back; if even
        // that fails, the claims are voided by recovery later.
        this.#ended(await releaseItems(this.db, ids, this.workerId).catch(() => []));
        if (!signal.aborted) await sleep(250, undefined, { signal }).catch(() => undefined);
      } else if (batch.length > 1) {
        // The whole batch rolled back: run its items one by one, to apply the good ones and find the one at fault.
        for (const item of batch) await this.#run([item]);
      } else {
        await this.#failAttempt(batch[0]!, error, startedAt);
      }
    }
  }

  /** An item's application threw unexpectedly: try it again after a backoff, or fail it for good after its last attempt. */
  async #failAttempt(item: JobItemRow, error: unknown, startedAt: number): Promise<void> {
    const attempts = item.attempts + 1;
    this.options.logger.error({ err: error, jobItemId: item.id, jobId: item.job_id, attempt: attempts }, `Job item ${item.id} failed unexpectedly (attempt ${attempts} of ${this.options.maxAttempts})`);
    try {
      if (attempts >= this.options.maxAttempts) {
        const message = `The item's transfer failed unexpectedly ${attempts} times; it will not be tried again.`;
        const exhausted = await exhaustItem(this.db, item, this.workerId, message);
        if (exhausted) this.#finished({ job: exhausted.job, completed: [exhausted] }, startedAt);
        return;
      }
      const delayMs = Math.min(MAX_BACKOFF_MS, this.options.retryBaseMs * 2 ** (attempts - 1));
      this.#ended(await releaseItems(this.db, [item.id], this.workerId, { runAfter: new Date(Date.now() + delayMs) }));
      // Wake a worker when the backoff is over, rather than at the next poll.
      setTimeout(() => this.#wakeUp(), delayMs).unref();
    } catch {
      // The database is away: recovery hands the item back later; this attempt is not counted.
    }
  }

  #finished({ job, completed }: BatchResult, startedAt: number): void {
    this.events.publishJobChanged(job.id, { coalesce: job.finished_at === null });
    const { onItemDone, onJobFinished } = this.options;
    if (onItemDone) {
      const durationMs = performance.now() - startedAt;
      for (const { item, outcome } of completed) onItemDone('error' in outcome ? 'FAILED' : 'SUCCEEDED', item.attempts + 1, durationMs);
    }
    if (onJobFinished && job.finished_at !== null) onJobFinished(job.status, jobDurationMs(job));
  }

  /** Cancelled jobs that ended when their last running items were handed back (releaseItems, recovery). */
  #ended(jobs: readonly JobRow[]): void {
    for (const job of jobs) {
      this.events.publishJobChanged(job.id);
      this.options.onJobFinished?.(job.status, jobDurationMs(job));
    }
  }
}

/** Adds `change` to the count of `key`, which leaves the map at zero (its size stays that of what is counted). */
function countIn<K>(counts: Map<K, number>, key: K, change: 1 | -1): void {
  const count = (counts.get(key) ?? 0) + change;
  if (count === 0) counts.delete(key);
  else counts.set(key, count);
}

/** A finished job's time from submission to its end: what onJobFinished is told. */
export const jobDurationMs = (job: JobRow): number => Date.parse(job.finished_at ?? job.created_at) - Date.parse(job.created_at);

/**
 * PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back whole
 * and may simply be run again. A batch can meet a deadlock with a recovery that hands back a dead
 * worker's items of a cancelled job (they take the job's row and the items' rows in opposite orders).
 */
const ROLLED_BACK_FOR_RETRY = new Set(['40P01', '40001']);

const isTransient = (error: unknown) =>
  error instanceof LockTimeoutError || isDatabaseUnavailable(error) || isDatabaseBusy(error) || ROLLED_BACK_FOR_RETRY.has((error as { code?: unknown })?.code as string);
