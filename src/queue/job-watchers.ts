import type { Db, JobRow } from '../db/database.js';
import { findJobsByIds } from '../db/jobs.js';
import { NotFoundError } from '../bank/errors.js';
import type { EventBudget } from '../subscriptions/event-budget.js';
import type { JobEvents } from './job-events.js';

/** At most this many progress events a second per subscription, however fast items finish. */
export const PROGRESS_INTERVAL_MS = 100;
/** Watched jobs are re-read this often even without a notification, in case one was lost. */
export const PROGRESS_POLL_MS = 2_000;
/** Jobs re-read by one statement of the poll: well under every driver's bound-parameter limit. */
const POLL_BATCH = 500;

export type JobWatchersOptions = {
  /** Shared by every subscription of the process: what bounds the CPU of sending their events. */
  budget: EventBudget;
  intervalMs?: number;
  pollMs?: number;
};

export type WatchOptions = {
  /** Aborts when the client leaves: the stream ends. */
  signal?: AbortSignal;
  /** What one event weighs in the budget, in events (event-weight.ts). */
  weight: number;
  /** Called just before each event is handed out (jobProgress gives each event fresh loaders). */
  beforeEvent?: () => void;
};

const isFinal = (job: JobRow): boolean => job.status === 'SUCCEEDED' || job.status === 'FAILED' || job.status === 'CANCELLED';

const changed = (before: JobRow | undefined, after: JobRow) =>
  before === undefined || before.status !== after.status || before.done !== after.done || before.failed !== after.failed;

/**
 * The jobProgress streams of one process. However many streams watch a job, the process has one
 * reader for it: one notification listener, at most one read in flight, at most one read per
 * interval for changes. Each read that finds the job changed makes a new version; each stream sends
 * the latest version when its turn comes (its own interval since its last event, then the shared
 * EventBudget), so a stream that falls behind skips versions instead of queueing them. In case a
 * notification was lost, one timer re-reads every watched job, a few hundred per statement.
 *
 * A stream ends after the event with a final status, when its client leaves (`signal`, or
 * `return()` from whoever reads it), or when `close()` is called at shutdown. When the last stream
 * of a job ends, its listener and timer go with it, and the poll stops with the last job watched:
 * nothing is left behind.
 */
export class JobWatchers {
  readonly #jobs = new Map<number, WatchedJob>();
  readonly #streams = new Set<JobStream>();
  #closed = false;
  #poll: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(
    private readonly db: Db,
    private readonly events: JobEvents,
    private readonly options: JobWatchersOptions,
  ) {}

  /** A stream of the job: its state at once, then each change; nothing happens before the first `next()`. */
  watch(jobId: number, options: WatchOptions): AsyncIterableIterator<JobRow> {
    return new JobStream(this, jobId, options);
  }

  /** Ends every stream (their clients get `complete`) and refuses new ones: the server is shutting down. */
  close(): void {
    this.#closed = true;
    for (const stream of this.#streams) void stream.return();
  }

  /** Jobs watched and streams open: both 0 once every stream has ended. */
  get size(): { jobs: number; streams: number } {
    return { jobs: this.#jobs.size, streams: this.#streams.size };
  }

  get intervalMs(): number {
    return this.options.intervalMs ?? PROGRESS_INTERVAL_MS;
  }
  get budget(): EventBudget {
    return this.options.budget;
  }

  /** @internal A stream starts: it watches the job with the others that do. Undefined once closed. */
  join(stream: JobStream, jobId: number): { job: WatchedJob; firstRead: number } | undefined {
    if (this.#closed) return undefined;
    let job = this.#jobs.get(jobId);
    if (!job) {
      job = new WatchedJob(jobId, this.db, this.events, this.intervalMs);
      this.#jobs.set(jobId, job);
      this.#poll ??= setInterval(() => void this.#pollAll(), this.options.pollMs ?? PROGRESS_POLL_MS);
    }
    this.#streams.add(stream);
    return { job, firstRead: job.join(stream) };
  }

  /** @internal A stream has ended; the job's reader stops with its last stream, the poll with the last job. */
  leave(stream: JobStream, job: WatchedJob): void {
    this.#streams.delete(stream);
    if (job.leave(stream) && this.#jobs.get(job.id) === job) this.#jobs.delete(job.id);
    if (this.#jobs.size === 0) {
      clearInterval(this.#poll);
      this.#poll = undefined;
    }
  }

  /** Re-reads every watched job, as if each had been notified: a lost notification costs this. */
  async #pollAll(): Promise<void> {
    // A poll slower than the interval (a database under load) is not joined by another.
    if (this.#polling) return;
    this.#polling = true;
    try {
      const jobs = [...this.#jobs.values()];
      for (let start = 0; start < jobs.length; start += POLL_BATCH) {
        const reads = jobs.slice(start, start + POLL_BATCH).flatMap((job) => {
          const number = job.beginRead();
          return number === undefined ? [] : [{ job, number }];
        });
        if (reads.length === 0) continue;
        let rows: JobRow[] = [];
        let error: unknown;
        try {
          rows = await findJobsByIds(this.db, reads.map(({ job }) => job.id));
        } catch (failure) {
          error = failure ?? new Error('poll failed');
        }
        const byId = new Map(rows.map((row) => [row.id, row]));
        for (const { job, number } of reads) job.endRead(number, byId.get(job.id), error);
      }
    } finally {
      this.#polling = false;
    }
  }
}

/** One job as this process watches it: the reader that its streams share. */
class WatchedJob {
  /** The job as last read; undefined before the first read, and while no job has this id. */
  job: JobRow | undefined;
  /** Goes up each time a read finds status, done or failed changed: a stream has sent version n or not. */
  version = 0;
  /** Reads finished; the number of the last one that succeeded, and the error of the last one that failed. */
  reads = 0;
  lastGoodRead = 0;
  lastError: unknown;

  readonly #streams = new Set<JobStream>();
  /** Streams waiting for the next read (their first event), and for the next version. */
  readonly #readWaiters = new Set<() => void>();
  readonly #changeWaiters = new Set<() => void>();
  #readsStarted = 0;
  /** A read numbered up to this one is wanted at once: a stream that joined waits for it. */
  #freshUpTo = 0;
  #reading = false;
  /** A notification came since the last read started. */
  #dirty = false;
  #lastReadAt = Number.NEGATIVE_INFINITY;
  /** The read that coalesces the changes notified within an interval of the last one. */
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => void) | undefined;
  /** Final, or no stream left: nothing to read any more. */
  #stopped = false;

  constructor(
    readonly id: number,
    private readonly db: Db,
    events: JobEvents,
    private readonly intervalMs: number,
  ) {
    // Listen before the first read, so that no change between the two goes unnoticed.
    this.#unlisten = events.onJobChanged(id, this.#notified);
  }

  /**
   * Returns the number of the read whose result the stream's first event may show: the latest read
   * when it started within the interval (in flight, or done without error), so no staler than any
   * later event may be; the latest read whatever its age when the job is final, since a final job
   * never changes; else the next read, started at once. So a burst of new streams on a busy job
   * costs one read per interval, not one each.
   */
  join(stream: JobStream): number {
    this.#streams.add(stream);
    if (this.#stopped) return this.#readsStarted;
    const recent = this.#readsStarted > 0 && performance.now() - this.#lastReadAt <= this.intervalMs;
    if (recent && (this.#reading || this.lastGoodRead === this.#readsStarted)) return this.#readsStarted;
    this.#freshUpTo = this.#readsStarted + 1;
    this.#schedule();
    return this.#freshUpTo;
  }

  /** Returns true when this was the last stream: the job is no longer watched. */
  leave(stream: JobStream): boolean {
    this.#streams.delete(stream);
    if (this.#streams.size > 0) return false;
    this.#stop();
    return true;
  }

  /** Calls `wake` after the next read; returns the function that withdraws it. */
  onRead(wake: () => void): () => void {
    this.#readWaiters.add(wake);
    return () => void this.#readWaiters.delete(wake);
  }

  /** Calls `wake` at the next version; returns the function that withdraws it. */
  onChange(wake: () => void): () => void {
    this.#changeWaiters.add(wake);
    return () => void this.#changeWaiters.delete(wake);
  }

  /**
   * Starts a read, made by the caller (this job's own, or the poll's for many jobs); returns its
   * number for endRead, or undefined when there is nothing to read or a read is in flight already.
   */
  beginRead(): number | undefined {
    if (this.#stopped || this.#reading) return undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#reading = true;
    this.#dirty = false;
    this.#lastReadAt = performance.now();
    return ++this.#readsStarted;
  }

  /** The read `number` found `row` (undefined: no such job), or failed with `error`. */
  endRead(number: number, row: JobRow | undefined, error?: unknown): void {
    this.#reading = false;
    if (this.#stopped) return;
    this.reads = number;
    // A failed read leaves the streams that have had their first event waiting for the next one;
    // the ones waiting for their first get the error.
    if (error === undefined) this.lastGoodRead = number;
    else this.lastError = error;
    if (row && changed(this.job, row)) {
      this.job = row;
      this.version += 1;
      wakeAll(this.#changeWaiters);
    }
    wakeAll(this.#readWaiters);
    // A final status never changes: no more reads or notifications for this job.
    if (row && isFinal(row)) this.#stop();
    else this.#schedule();
  }

  readonly #notified = (): void => {
    this.#dirty = true;
    this.#schedule();
  };

  /** Starts a read now, sets the timer for it, or does nothing, as the state asks. */
  #schedule(): void {
    if (this.#stopped || this.#reading) return;
    if (this.#freshUpTo > this.#readsStarted) return void this.#read();
    if (!this.#dirty || this.#timer) return;
    // Coalesce: changes notified within one interval of the last read share the next one.
    const wait = this.#lastReadAt + this.intervalMs - performance.now();
    if (wait <= 0) return void this.#read();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, wait);
  }

  async #read(): Promise<void> {
    const number = this.beginRead();
    if (number === undefined) return;
    let row: JobRow | undefined;
    try {
      row = (await findJobsByIds(this.db, [this.id]))[0];
    } catch (error) {
      return this.endRead(number, undefined, error ?? new Error('read failed'));
    }
    this.endRead(number, row);
  }

  #stop(): void {
    this.#stopped = true;
    this.#unlisten?.();
    this.#unlisten = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function wakeAll(waiters: Set<() => void>): void {
  const woken = [...waiters];
  waiters.clear();
  for (const wake of woken) wake();
}

const DONE: IteratorResult<JobRow> = Object.freeze({ done: true, value: undefined });

/**
 * One jobProgress stream. Written as an iterator rather than an async generator so that `return()`
 * ends it at once, even while it waits for a change: a generator's `return()` waits until the
 * generator next yields, which for an idle job may be never (FIELD-NOTES: leaked iterators).
 */
class JobStream implements AsyncIterableIterator<JobRow> {
  #state: 'new' | 'open' | 'ended' = 'new';
  #watched: WatchedJob | undefined;
  #firstRead = 0;
  /** The version last sent (-1: none yet), and when. */
  #sent = -1;
  #sentAt = Number.NEGATIVE_INFINITY;
  /** Ends the wait in progress; set while the stream waits. */
  #interrupt: (() => void) | undefined;
  #pending: Promise<IteratorResult<JobRow>> | undefined;

  constructor(
    private readonly host: JobWatchers,
    private readonly jobId: number,
    private readonly options: WatchOptions,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<JobRow>> {
    if (this.#state === 'ended') return Promise.resolve(DONE);
    if (this.#state === 'new') this.#open();
    // One event at a time: a second call waits for the first.
    const produce = () => this.#produce();
    const pending = this.#pending ? this.#pending.then(produce, produce) : produce();
    this.#pending = pending;
    return pending;
  }

  async return(): Promise<IteratorResult<JobRow>> {
    this.#end();
    return DONE;
  }

  #open(): void {
    const joined = this.host.join(this, this.jobId);
    if (!joined) return void this.#end();
    this.#state = 'open';
    this.#watched = joined.job;
    this.#firstRead = joined.firstRead;
    if (this.options.signal?.aborted) return void this.#end();
    this.options.signal?.addEventListener('abort', this.#abort);
  }

  readonly #abort = () => this.#end();

  /** Ends the stream, whatever it is doing: the wait in progress returns, and the job is left. */
  #end(): IteratorResult<JobRow> {
    if (this.#state === 'ended') return DONE;
    const wasOpen = this.#state === 'open';
    this.#state = 'ended';
    this.options.signal?.removeEventListener('abort', this.#abort);
    this.#interrupt?.();
    if (wasOpen) this.host.leave(this, this.#watched!);
    return DONE;
  }

  get #ended(): boolean {
    return this.#state === 'ended';
  }

  /** Waits until `register` wakes the stream, or the stream ends; `register` returns how to withdraw. */
  #until(register: (wake: () => void) => () => void): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#interrupt = undefined;
        resolve();
      };
      let withdraw: (() => void) | undefined;
      this.#interrupt = () => {
        withdraw?.();
        wake();
      };
      withdraw = register(wake);
    });
  }

  async #produce(): Promise<IteratorResult<JobRow>> {
    const watched = this.#watched;
    if (this.#ended || !watched) return DONE;
    if (this.#sent < 0) {
      // The first event: the job now, from a read fresh enough (see WatchedJob.join).
      while (!this.#ended && watched.reads < this.#firstRead) await this.#until((wake) => watched.onRead(wake));
      if (this.#ended) return DONE;
      if (watched.lastGoodRead < this.#firstRead) {
        this.#end();
        throw watched.lastError;
      }
      if (!watched.job) {
        this.#end();
        throw new NotFoundError('Job', String(this.jobId));
      }
    } else {
      while (!this.#ended && watched.version === this.#sent) await this.#until((wake) => watched.onChange(wake));
      // At most one event per interval: the changes in between are coalesced into the latest.
      const wait = this.#sentAt + this.host.intervalMs - performance.now();
      if (!this.#ended && wait > 0) {
        await this.#until((wake) => {
          const timer = setTimeout(wake, wait);
          return () => clearTimeout(timer);
        });
      }
    }
    // Then wait for the process's budget: with many streams open, each gets its events less often.
    if (!this.#ended) await this.#until((wake) => this.host.budget.request(this.options.weight, wake));
    if (this.#ended) return DONE;

    // The latest version, whatever it was when this stream started to wait.
    const job = watched.job!;
    this.#sent = watched.version;
    this.#sentAt = performance.now();
    if (isFinal(job)) this.#end();
    this.options.beforeEvent?.();
    return { done: false, value: job };
  }
}
