import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestCounter, RequestHistogram } from '../src/observability/request-series.js';

// The per-request metrics are hand-written for speed; Prometheus must not be able to tell.
const buckets = [0.0005, 0.001, 0.0025, 0.01, 1, 10];
const observations: [string, number][] = [
  ['2xx', 0.0001],
  ['2xx', 0.0005],
  ['2xx', 0.0007],
  ['4xx', 0.003],
  ['2xx', 0.2],
  ['5xx', 45],
  ['2xx', 10],
];

describe('request series', () => {
  it('expose a histogram as the same text as prom-client’s Histogram fed the same observations', async () => {
    const theirs = new Registry();
    const histogram = new Histogram({ name: 'duration_seconds', help: 'Durations.', labelNames: ['status_class'], buckets, registers: [theirs] });
    const ours = new Registry();
    const requestHistogram = new RequestHistogram('duration_seconds', 'Durations.', buckets, ours);
    for (const [statusClass, seconds] of observations) {
      histogram.labels(statusClass).observe(seconds);
      requestHistogram.seriesFor({ status_class: statusClass }).observe(seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('expose a counter as the same text as prom-client’s Counter, and keep one series per label set', async () => {
    const theirs = new Registry();
    const counter = new Counter({ name: 'operations_total', help: 'Operations.', labelNames: ['type', 'name'], registers: [theirs] });
    const ours = new Registry();
    const requestCounter = new RequestCounter('operations_total', 'Operations.', ours);
    for (const [type, name] of [['query', 'A'], ['query', ''], ['mutation', 'A'], ['query', 'A']] as const) {
      counter.labels(type, name).inc();
      requestCounter.seriesFor({ type, name }).value += 1;
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('operations_total{type="query",name="A"} 2');
  });

  it('start again from nothing when the registry resets its metrics, and go on counting in the series callers kept', async () => {
    const ours = new Registry();
    const series = new RequestHistogram('duration_seconds', 'Durations.', buckets, ours).seriesFor({ status_class: '2xx' });
    const counter = new RequestCounter('operations_total', 'Operations.', ours).seriesFor({ type: 'query', name: 'A' });
    series.observe(1);
    counter.value += 1;
    ours.resetMetrics();
    expect(await ours.metrics()).toBe('# HELP duration_seconds Durations.\n# TYPE duration_seconds histogram\n\n# HELP operations_total Operations.\n# TYPE operations_total counter\n');
    series.observe(0.002);
    counter.value += 1;
    const text = await ours.metrics();
    expect(text).toContain('duration_seconds_count{status_class="2xx"} 1');
    expect(text).toContain('operations_total{type="query",name="A"} 1');
  });
});
