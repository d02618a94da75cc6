import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LockWaitKind } from '../locks/transaction-locks.js';
import { BoundedLabels } from './bounded-labels.js';
import { RequestCounter, RequestHistogram, type CounterSeries, type HistogramSeries } from './request-series.js';

/** Operation names kept as label values; the rest are counted as `_other` (bounded-labels.ts). */
export const MAX_OPERATION_NAMES = 100;
/** Error codes kept as label values: the server's own codes are fewer; this only guards the bound. */
const MAX_ERROR_CODES = 50;

/** Seconds, from a fast request (tens of microseconds) to the longest wait a request may have (LOCK_TIMEOUT_MS, hello's delay). */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type PoolStats = { inUse: number; idle: number; waiting: number };

/** The queue's hooks (src/queue/worker-pool.ts's onItemDone and onJobFinished). */
export type QueueObserver = {
  onItemDone(status: string, attempts: number, durationMs: number): void;
  onJobFinished(status: string, durationMs: number): void;
};

/**
 * The process's Prometheus metrics (prom-client), in a registry of the app's own (tests run several
 * apps in one process). Every label has a bounded set of values: status classes, operation types,
 * operation names (bounded-labels.ts), the server's error codes, lock kinds.
 */
export class Metrics {
  readonly registry = new Registry();
  // The metrics of every request are request-series.ts's, cheaper per observation than prom-client's.
  readonly #requestDuration: RequestHistogram;
  /** The series of each status class (1xx to 5xx), resolved once. */
  readonly #byStatusClass: HistogramSeries[] = [];
  /** Requests in flight: a plain number, read by the gauge at each scrape rather than a gauge's inc/dec per request. */
  #inFlight = 0;
  readonly #operations: RequestCounter;
  /** The series of each label set, resolved once: by type, then bounded name. */
  readonly #operationSeries = new Map<string, Map<string, CounterSeries>>();

  readonly #errors: Counter<'code'>;
  readonly #lockWaits: Histogram<'kind'>;
  readonly #names = new BoundedLabels(MAX_OPERATION_NAMES);
  readonly #codes = new BoundedLabels(MAX_ERROR_CODES);

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#requestDuration = new RequestHistogram(
      'http_request_duration_seconds',
      'Time from the arrival of an HTTP request to the end of its answer, by status class (2xx, 4xx, 5xx).',
      DURATION_BUCKETS,
      this.registry,
    );
    const metrics = this;
    new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests received and not yet answered.',
      registers,
      collect() {
        this.set(metrics.#inFlight);
      },
    });
    this.#operations = new RequestCounter(
      'graphql_operations_total',
      `GraphQL operations executed, by type and operation name (the first ${MAX_OPERATION_NAMES} names seen; the rest as "_other", anonymous ones as "").`,
      this.registry,
    );
    this.#errors = new Counter({ name: 'graphql_errors_total', help: 'Errors in GraphQL results, by extensions.code.', labelNames: ['code'], registers });
    this.#lockWaits = new Histogram({
      name: 'lock_wait_seconds',
      help: 'Time spent waiting for a lock before the work ran, by kind: key (the in-process mutex of a key), connection (a slot of the pool for lock holders), advisory (PostgreSQL advisory locks, across replicas).',
      labelNames: ['kind'],
      buckets: DURATION_BUCKETS,
      registers,
    });
  }

  requestStarted(): void {
    this.#inFlight += 1;
  }

  requestEnded(status: number, seconds: number): void {
    this.#inFlight -= 1;
    const statusClass = Math.trunc(status / 100);
    (this.#byStatusClass[statusClass] ??= this.#requestDuration.seriesFor({ status_class: `${statusClass}xx` })).observe(seconds);
  }

  operation(type: string, name: string | undefined): void {
    const label = name === undefined ? '' : this.#names.label(name);
    // Bounded like the labels: types are three, names MAX_OPERATION_NAMES and "_other". Looked up
    // by type, then name, rather than by a key made of both: no string to build and hash per request.
    let byName = this.#operationSeries.get(type);
    if (!byName) this.#operationSeries.set(type, (byName = new Map()));
    let series = byName.get(label);
    if (!series) byName.set(label, (series = this.#operations.seriesFor({ type, name: label })));
    series.value += 1;
  }

  error(code: string): void {
    this.#errors.labels(this.#codes.label(code)).inc();
  }

  lockWait(kind: LockWaitKind, seconds: number): void {
    this.#lockWaits.labels(kind).observe(seconds);
  }

  /** Gauges of the database pool, read at each scrape. */
  observePool(stats: () => PoolStats | undefined): void {
    new Gauge({
      name: 'db_pool_connections',
      help: 'Connections of the database pool (PostgreSQL), by state: in_use, idle, and waiting (requests waiting for a connection).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const now = stats();
        if (!now) return;
        this.set({ state: 'in_use' }, now.inUse);
        this.set({ state: 'idle' }, now.idle);
        this.set({ state: 'waiting' }, now.waiting);
      },
    });
  }

  /**
   * The queue: items done by outcome (their rate is the items applied per second), their attempts
   * and durations, jobs' durations by final status; and the items waiting or running in the whole
   * database, read at each scrape (from the jobs' counters, an index scan: src/db/jobs.ts).
   */
  observeQueue(activeItems: () => Promise<number>): QueueObserver {
    const registers = [this.registry];
    new Gauge({
      name: 'queue_items_active',
      help: 'Queue items pending or running, in the whole database (every replica).',
      registers,
      async collect() {
        this.set(await activeItems());
      },
    });
    const items = new Counter({ name: 'queue_items_done_total', help: 'Queue items ended by this process, by status: SUCCEEDED or FAILED (refused, or out of attempts).', labelNames: ['status'], registers });
    const attempts = new Histogram({ name: 'queue_item_attempts', help: 'Attempts an item took to end (1 unless it failed unexpectedly and was retried).', buckets: [1, 2, 3, 5, 10], registers });
    const itemDuration = new Histogram({ name: 'queue_item_duration_seconds', help: "Time of the batch transaction that applied an item (its last attempt's).", buckets: DURATION_BUCKETS, registers });
    const jobDuration = new Histogram({
      name: 'queue_job_duration_seconds',
      help: 'Time from a job’s submission to its end, by final status, for jobs that ended in this process (their last item, a cancelJob with none of their items running, or their last running items handed back after one).',
      labelNames: ['status'],
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    return {
      onItemDone(status, itemAttempts, durationMs) {
        items.labels(status).inc();
        attempts.observe(itemAttempts);
        itemDuration.observe(durationMs / 1000);
      },
      onJobFinished(status, durationMs) {
        jobDuration.labels(status).observe(durationMs / 1000);
      },
    };
  }

  /** The Prometheus text exposition, and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
