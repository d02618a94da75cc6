import type { Metric, Registry } from 'prom-client';

/**
 * Metrics updated on every request, written for that. prom-client's Histogram and Counter hash the
 * label values on every observe() and inc(), a child from labels() included: about 1.5 µs and
 * 0.5 µs a call, a tenth of what observing a `{ hello }` may cost (bench/README.md, "The cost of
 * observing"). Here the caller resolves a label set to its series once, and an observation is a few
 * additions; at scrape time the series are handed to prom-client's registry in the shape its own
 * metrics have, so the exposition is the same text (test/request-series.test.ts compares them).
 */

type Labels = Record<string, string>;
type Value = { metricName?: string; labels: Record<string, string | number>; value: number };

/** What a registry asks of a metric: prom-client's own classes have these. */
abstract class RegisteredMetric<S> {
  protected readonly series = new Map<string, { labels: Labels; series: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    register: Registry,
  ) {
    // The registry only calls get() and reset(), and reads name, help and type.
    register.registerMetric(this as unknown as Metric);
  }

  /** The series of one label set, made on first use; keep it, rather than ask again per observation. */
  protected seriesOf(labels: Labels, make: () => S): S {
    const key = JSON.stringify(labels);
    let entry = this.series.get(key);
    if (!entry) this.series.set(key, (entry = { labels, series: make() }));
    return entry.series;
  }

  protected abstract valuesOf(labels: Labels, series: S): Value[];
  /** Whether the series has been counted in since it was made or reset: only those are exposed, as prom-client does. */
  protected abstract counted(series: S): boolean;
  protected abstract zero(series: S): void;

  async get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: Value[] }> {
    const values = [...this.series.values()].flatMap(({ labels, series }) => (this.counted(series) ? this.valuesOf(labels, series) : []));
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }

  /** Zeroes every series in place: callers keep theirs, and what they count after a reset is still exposed. */
  reset(): void {
    for (const { series } of this.series.values()) this.zero(series);
  }
}

export type CounterSeries = { value: number };

/** A counter whose label sets the caller resolves once (`series`), then counts with `series.value += 1`. */
export class RequestCounter extends RegisteredMetric<CounterSeries> {
  constructor(name: string, help: string, register: Registry) {
    super(name, help, 'counter', register);
  }

  seriesFor(labels: Labels): CounterSeries {
    return this.seriesOf(labels, () => ({ value: 0 }));
  }

  protected valuesOf(labels: Labels, { value }: CounterSeries): Value[] {
    return [{ labels, value }];
  }

  protected counted(series: CounterSeries): boolean {
    return series.value > 0;
  }

  protected zero(series: CounterSeries): void {
    series.value = 0;
  }
}

export type HistogramSeries = { observe(value: number): void };

/** A histogram whose label sets the caller resolves once (`seriesFor`), then observes on the series. */
export class RequestHistogram extends RegisteredMetric<BucketCounts> {
  constructor(
    name: string,
    help: string,
    private readonly buckets: readonly number[],
    register: Registry,
  ) {
    super(name, help, 'histogram', register);
  }

  seriesFor(labels: Labels): HistogramSeries {
    return this.seriesOf(labels, () => new BucketCounts(this.buckets));
  }

  protected valuesOf(labels: Labels, series: BucketCounts): Value[] {
    const values: Value[] = [];
    let cumulative = 0;
    this.buckets.forEach((le, index) => {
      cumulative += series.counts[index]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
    });
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: series.count });
    values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
    values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    return values;
  }

  protected counted(series: BucketCounts): boolean {
    return series.count > 0;
  }

  protected zero(series: BucketCounts): void {
    series.counts.fill(0);
    series.sum = 0;
    series.count = 0;
  }
}

/** One label set's observations: a count per bucket (not cumulative; the scrape adds them up), their sum and number. */
class BucketCounts implements HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length);
  }

  observe(value: number): void {
    const { buckets } = this;
    // Most requests land in the first few buckets: a scan from the bottom is the shortest way there.
    let index = 0;
    while (index < buckets.length && value > buckets[index]!) index += 1;
    if (index < buckets.length) this.counts[index]! += 1;
    this.sum += value;
    this.count += 1;
  }
}
