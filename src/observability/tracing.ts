import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, defaultTextMapGetter, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/**
 * OpenTelemetry tracing: a span per HTTP request (its parent taken from the W3C `traceparent` the
 * client sent), and under it parse, validate and execute (graphql-observation.ts), and under
 * execute each database statement and each lock wait, exported over OTLP/HTTP.
 *
 * This module, and the SDK, are only imported when OTEL_EXPORTER_OTLP_ENDPOINT is set
 * (src/observability/observability.ts): without it, no span is made and nothing of the SDK loaded.
 *
 * The tracer provider is the app's own, not registered globally: tests run several apps in one
 * process, and the spans of one must not go to another's exporter. Only the context manager is
 * global (AsyncLocalStorage, as OpenTelemetry's Node SDK sets it), so that a database statement
 * finds the execution it runs for.
 */
export type Tracing = {
  tracer: Tracer;
  /** Starts a request's span, the child of the client's trace if it sent a valid traceparent. */
  startRequest(method: string, path: string, headers: IncomingHttpHeaders): Span;
  /** Ends a request's span with its status. */
  endRequest(span: Span, status: number): void;
  /** Runs `work` with `span` as the active span: what it starts, and what it awaits, is the span's child. */
  withSpan<T>(span: Span, work: () => T): T;
  /** A span for something that happened in the active span's context and took `durationMs`, just now. */
  recordDone(name: string, durationMs: number, attributes?: Record<string, string | number>, failed?: boolean): void;
  /** Sends the spans not yet sent; stops. */
  shutdown(): Promise<void>;
};

export type TracingOptions = {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans go to `${endpoint}/v1/traces`. */
  endpoint?: string;
  serviceName: string;
  /** An exporter instead of OTLP: tests read the spans in memory. Spans are then exported one by one, at once. */
  exporter?: SpanExporter;
};

let contextManagerSet = false;

export function startTracing({ endpoint, serviceName, exporter }: TracingOptions): Tracing {
  if (!contextManagerSet) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  const processor = exporter
    ? new SimpleSpanProcessor(exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint!.replace(/\/+$/, '')}/v1/traces` }), {
        // A bounded queue: when the collector is slow or gone, spans are dropped, memory is not spent.
        maxQueueSize: 2_048,
        maxExportBatchSize: 512,
      });
  const provider = new NodeTracerProvider({ resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }), spanProcessors: [processor] });
  const tracer = provider.getTracer('graphql-async-server');
  const propagator = new W3CTraceContextPropagator();

  return {
    tracer,
    startRequest(method, path, headers) {
      const parent = headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
      return tracer.startSpan(
        `${method} ${path}`,
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path } },
        parent,
      );
    },
    endRequest(span, status) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
    withSpan: (span, work) => context.with(trace.setSpan(context.active(), span), work),
    recordDone(name, durationMs, attributes, failed = false) {
      const active: Context = context.active();
      if (trace.getSpan(active) === undefined) return;
      const end = Date.now();
      const span = tracer.startSpan(name, { startTime: end - durationMs, attributes }, active);
      if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(end);
    },
    shutdown: () => provider.shutdown(),
  };
}
