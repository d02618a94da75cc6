import { randomUUID } from 'node:crypto';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import type { Db, JobItemRow, JobRow } from '../db/database.js';
import { claimNextItem, heartbeat, markJobRunning, recoverAbandonedItems, releaseItem, removeWorker } from '../db/jobs.js';
import { isDatabaseBusy, isDatabaseUnavailable } from '../db/unavailable.js';
import { LockTimeoutError } from '../locks/errors.js';
import type { JobEvents } from './job-events.js';

export type WorkerPoolOptions = {
  /** Items this process runs at once (QUEUE_CONCURRENCY); 0: this process runs no workers. */
  concurrency: number;
  /** Simulated work per item, outside its locks and transaction (QUEUE_ITEM_WORK_MS). */
  itemWorkMs: number;
  /**
   * `exclusive`: this process is the only one on the database (SQLite), so at start every claim of
   * an earlier process is void. `shared` (PostgreSQL): a claim is void once its worker has not
   * heartbeaten for `leaseMs`.
   */
  ownership: 'exclusive' | 'shared';
  leaseMs?: number;
  /** How often an idle worker looks for work without being told (a lost notification costs this). */
  pollMs?: number;
};

/**
 * What a worker does with an item it has claimed: apply it and record its outcome, all in one
 * transaction (src/bank/job-items.ts). Returns the job as the outcome left it, or undefined if the
 * claim was voided meanwhile; throws when the item could not be run now (it is handed back).
 */
export type ItemHandler = (item: JobItemRow, workerId: string) => Promise<JobRow | undefined>;

/**
 * A fixed pool of async workers that take job items from the database, oldest first, and hand each
 * to the item handler. Durable: claims live in the database, and a claim whose worker dies (its
 * process killed) is voided (at the next start on SQLite; when its heartbeat goes stale on
 * PostgreSQL), so another worker runs the item from the start. Idle workers sleep until a job is
 * submitted, here or (by NOTIFY) on another replica, or until their poll.
 */
export class WorkerPool {
  readonly workerId = randomUUID();
  #stopping = false;
  /** Counts wake-ups, so that a worker woken while it was claiming does not go to sleep. */
  #wakes = 0;
  /** The idle workers' wake-up calls: each idle wait has its own, removed when it ends. */
  readonly #sleepers = new Set<() => void>();
  #workers: Promise<void>[] = [];
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  #running = 0;
  /** The last job this process marked RUNNING (QUEUED → RUNNING happens once per job). */
  #jobMarkedRunning: number | undefined;
  /** The most items this process has run at once; tests check it against the concurrency. */
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
      const beat = setInterval(() => {
        void heartbeat(this.db, this.workerId)
          .then(() => this.#recover(new Date(Date.now() - leaseMs)))
          .catch(() => undefined);
      }, leaseMs / 5);
      beat.unref();
      this.#timers.push(beat);
    }
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
   * Stops taking items, and waits up to `timeoutMs` for the running ones to finish. Items still
   * running then are left claimed; the next start (or another replica) runs them again.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.requestStop();
    this.#unsubscribe?.();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all(this.#workers).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(resolve, timeoutMs, false))),
    ]);
    clearTimeout(timer);
    // Heartbeat until the running items are over, so that no other replica takes them back meanwhile.
    for (const beat of this.#timers) clearInterval(beat);
    if (finished) await removeWorker(this.db, this.workerId).catch(() => undefined);
  }

  async #recover(aliveSince: Date): Promise<void> {
    const recovered = await recoverAbandonedItems(this.db, this.workerId, aliveSince);
    if (recovered > 0) this.#wakeUp();
  }

  #wakeUp(): void {
    this.#wakes += 1;
    for (const wake of [...this.#sleepers]) wake();
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
      let item: JobItemRow | undefined;
      try {
        item = await claimNextItem(this.db, this.workerId);
      } catch {
        // The database is away: look again a little later.
        await this.#idle(1_000, wakesSeen);
        continue;
      }
      if (!item) {
        await this.#idle(this.options.pollMs ?? 1_000, wakesSeen);
        continue;
      }
      this.#running += 1;
      this.maxRunning = Math.max(this.maxRunning, this.#running);
      try {
        await this.#run(item);
      } finally {
        this.#running -= 1;
      }
      // better-sqlite3 answers synchronously, so claim → apply → claim is a chain of resolved
      // promises that would never let the event loop serve a request: yield after every item.
      await setImmediate();
    }
  }

  async #run(item: JobItemRow): Promise<void> {
    try {
      // Items are claimed in id order, so one job's items come in a row: mark a job RUNNING once
      // per run of its items, not with a no-op UPDATE of its busy row for every item.
      if (this.#jobMarkedRunning !== item.job_id) {
        await markJobRunning(this.db, item.job_id);
        this.#jobMarkedRunning = item.job_id;
      }
      if (this.options.itemWorkMs > 0) await sleep(this.options.itemWorkMs);
      const job = await this.handle(item, this.workerId);
      if (job) this.events.publishJobChanged(item.job_id);
    } catch (error) {
      // A lock not granted in time, the database away or its pool busy: the item is not lost, only
      // not run yet. Give it back; if even that fails, the claim is voided by recovery later.
      await releaseItem(this.db, item.id, this.workerId).catch(() => undefined);
      if (!(error instanceof LockTimeoutError) && !isDatabaseUnavailable(error) && !isDatabaseBusy(error)) console.error(`Job item ${item.id} failed unexpectedly:`, error);
      await sleep(250);
    }
  }
}
