import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Db } from '../db/database.js';
import { sql } from 'kysely';
import { PROGRESS_INTERVAL_MS } from './job-watchers.js';

/**
 * Change notifications for the queue, across every process that shares the database: "job N
 * changed" for the jobProgress watchers (job-watchers.ts, one listener per watched job), and "new
 * work" for idle workers. They carry ids only; whoever listens reads the current state from the
 * database, so a notification can be dropped or merged without anyone seeing a wrong state.
 */
export interface JobEvents {
  /** `coalesce`: a step of progress, which may be told together with the next ones (PostgreSQL). */
  publishJobChanged(jobId: number, options?: { coalesce?: boolean }): void;
  onJobChanged(jobId: number, listener: () => void): () => void;
  publishWorkAdded(): void;
  onWorkAdded(listener: () => void): () => void;
  close(): Promise<void>;
}

const JOB_CHANNEL = 'job_changed';
const WORK_CHANNEL = 'work_added';

/** One process (SQLite): an in-process event emitter. */
export class MemoryJobEvents implements JobEvents {
  protected readonly emitter = new EventEmitter().setMaxListeners(0);

  publishJobChanged(jobId: number): void {
    this.emitter.emit(`${JOB_CHANNEL}:${jobId}`);
  }
  onJobChanged(jobId: number, listener: () => void): () => void {
    this.emitter.on(`${JOB_CHANNEL}:${jobId}`, listener);
    return () => this.emitter.off(`${JOB_CHANNEL}:${jobId}`, listener);
  }
  publishWorkAdded(): void {
    this.emitter.emit(WORK_CHANNEL);
  }
  onWorkAdded(listener: () => void): () => void {
    this.emitter.on(WORK_CHANNEL, listener);
    return () => this.emitter.off(WORK_CHANNEL, listener);
  }
  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/**
 * Several replicas (PostgreSQL): NOTIFY through the pool, LISTEN on one connection of its own per
 * process, re-opened after a failure. While it is down, the job watchers and the workers fall back
 * on their periodic re-reads, so nothing waits forever on a lost notification.
 */
export class PostgresJobEvents extends MemoryJobEvents {
  #client: pg.Client | undefined;
  #closed = false;
  /** Jobs notified within the last interval; `again`: changed since, to notify at its end. */
  readonly #throttled = new Map<number, { again: boolean; timer: NodeJS.Timeout }>();
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly connection: pg.ClientConfig,
  ) {
    super();
  }

  /** Opens the LISTEN connection; resolves once listening (or after the first failure, retried later). */
  async start(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.connection);
    client.on('notification', ({ channel, payload }) => {
      if (channel === JOB_CHANNEL && payload) this.emitter.emit(`${JOB_CHANNEL}:${payload}`);
      if (channel === WORK_CHANNEL) this.emitter.emit(WORK_CHANNEL);
    });
    client.on('error', () => this.#reconnect(client));
    client.on('end', () => this.#reconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${JOB_CHANNEL}; LISTEN ${WORK_CHANNEL}`);
      // Closed while we were connecting: this connection is nobody's to close later.
      if (this.#closed) return void client.end().catch(() => undefined);
      this.#client = client;
      // Anything may have changed while we were not listening.
      this.emitter.emit(WORK_CHANNEL);
    } catch {
      this.#reconnect(client);
    }
  }

  #reconnect(client: pg.Client): void {
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (this.#client === client) this.#client = undefined;
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.start();
    }, 1_000);
  }

  /**
   * Progress (`coalesce`) makes at most one NOTIFY per job per PROGRESS_INTERVAL_MS, the first at
   * once and the steps after it in one more at the interval's end: the watchers read a job at most
   * that often anyway, and the queue moves a job on with every batch (a statement, and a message to
   * every replica, each). Anything else (a job's end, a cancellation) is told at once.
   */
  override publishJobChanged(jobId: number, { coalesce = false }: { coalesce?: boolean } = {}): void {
    const pending = this.#throttled.get(jobId);
    if (pending && coalesce) {
      pending.again = true;
      return;
    }
    if (pending) {
      clearTimeout(pending.timer);
      this.#throttled.delete(jobId);
    }
    this.#notify(JOB_CHANNEL, String(jobId));
    const entry = {
      again: false,
      timer: setTimeout(() => {
        this.#throttled.delete(jobId);
        if (entry.again) this.publishJobChanged(jobId, { coalesce: true });
      }, PROGRESS_INTERVAL_MS),
    };
    entry.timer.unref();
    this.#throttled.set(jobId, entry);
  }
  override publishWorkAdded(): void {
    this.#notify(WORK_CHANNEL, '');
  }
  #notify(channel: string, payload: string): void {
    // Fire and forget: a lost notification only delays a re-read.
    sql`SELECT pg_notify(${channel}, ${payload})`.execute(this.db).catch(() => undefined);
  }

  override async close(): Promise<void> {
    this.#closed = true;
    // What changed last is told now, not left to a timer.
    for (const [jobId, { again, timer }] of this.#throttled) {
      clearTimeout(timer);
      if (again) this.#notify(JOB_CHANNEL, String(jobId));
    }
    this.#throttled.clear();
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    client?.removeAllListeners('end');
    await client?.end().catch(() => undefined);
    await super.close();
  }
}
