import type { Plugin } from 'graphql-yoga';
import type { ObservabilityConfig } from '../config.js';
import { useExecuteSpan, useGraphQLObservation } from './graphql-observation.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import type { Tracing, TracingOptions } from './tracing.js';

/** What the server says about itself: its log, its metrics, its traces; each off when not configured. */
export type Observability = {
  logger: Logger;
  /** Undefined with METRICS=false. */
  metrics?: Metrics;
  /** Undefined without OTEL_EXPORTER_OTLP_ENDPOINT (or a test's exporter). */
  tracing?: Tracing;
  /** The GraphQL plugins: the first of the list, and the last (the execute span), in that order. */
  firstPlugin: Plugin;
  lastPlugins: Plugin[];
  /** Sends the spans not yet sent. */
  close(): Promise<void>;
};

export type ObservabilityOptions = {
  /** Where the app logs; by default a pino logger at LOG_LEVEL on stdout. */
  logger?: Logger;
  /** Spans go to this exporter (tests) rather than to OTEL_EXPORTER_OTLP_ENDPOINT. */
  spanExporter?: TracingOptions['exporter'];
};

export async function createObservability(config: ObservabilityConfig, { logger = createLogger({ level: config.logLevel }), spanExporter }: ObservabilityOptions = {}): Promise<Observability> {
  const metrics = config.metrics ? new Metrics() : undefined;
  let tracing: Tracing | undefined;
  if (config.otlpEndpoint !== undefined || spanExporter !== undefined) {
    // Imported here only: with tracing off, not one module of the OpenTelemetry SDK is loaded.
    const { startTracing } = await import('./tracing.js');
    tracing = startTracing({ endpoint: config.otlpEndpoint, serviceName: config.serviceName, exporter: spanExporter });
  }
  return {
    logger,
    metrics,
    tracing,
    firstPlugin: useGraphQLObservation({ logger, metrics, tracing }),
    lastPlugins: tracing ? [useExecuteSpan(tracing)] : [],
    close: async () => {
      await tracing?.shutdown();
    },
  };
}
