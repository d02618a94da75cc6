import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration of the HTTP bounds', () => {
  it('has a default for every bound, and reads each from its variable', () => {
    expect(loadConfig({}).maxResponseBytes).toBe(10_000_000);
    expect(loadConfig({}).http).toMatchObject({
      maxPipelinedRequests: 16,
      maxBodyBytesInFlight: 100_000_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      sendTimeoutMs: 30_000,
      maxQueuedResponseBytes: 200_000_000,
      corsOrigins: [],
    });
    const env = {
      MAX_RESPONSE_BYTES: '5000',
      MAX_CONNECTIONS: '100',
      MAX_PIPELINED_REQUESTS: '4',
      MAX_BODY_BYTES_IN_FLIGHT: '2000000',
      HEADERS_TIMEOUT_MS: '1000',
      REQUEST_TIMEOUT_MS: '2000',
      KEEP_ALIVE_TIMEOUT_MS: '3000',
      SEND_TIMEOUT_MS: '4000',
      MAX_QUEUED_RESPONSE_BYTES: '6000000',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
    };
    const config = loadConfig(env);
    expect(config.maxResponseBytes).toBe(5000);
    expect(config.http).toEqual({
      maxConnections: 100,
      maxPipelinedRequests: 4,
      maxBodyBytesInFlight: 2_000_000,
      headersTimeoutMs: 1000,
      requestTimeoutMs: 2000,
      keepAliveTimeoutMs: 3000,
      sendTimeoutMs: 4000,
      maxQueuedResponseBytes: 6_000_000,
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
    });
  });

  it('sizes MAX_CONNECTIONS from the limit of open files, so that 10,000 waiting clients fit where the limit allows', () => {
    const openFiles = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    const { maxConnections } = loadConfig({}).http;
    // Room is left for the database, logs and libraries; a connection takes one file descriptor.
    expect(maxConnections).toBeLessThan(openFiles);
    expect(maxConnections).toBeGreaterThanOrEqual(openFiles / 2);
    if (openFiles >= 12_000) expect(maxConnections).toBeGreaterThan(10_000);
  });

  it.each([
    [{ MAX_RESPONSE_BYTES: '10' }, 'MAX_RESPONSE_BYTES must be a whole number from 1024 to 1000000000; got "10".'],
    [{ MAX_CONNECTIONS: 'many' }, 'MAX_CONNECTIONS must be a whole number from 1 to 10000000; got "many".'],
    [{ SEND_TIMEOUT_MS: '-1' }, 'SEND_TIMEOUT_MS must be a whole number from 100 to 3600000; got "-1".'],
    [{ HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '1000' }, 'HEADERS_TIMEOUT_MS (5000) must not be more than REQUEST_TIMEOUT_MS (1000).'],
    [{ MAX_BODY_BYTES_IN_FLIGHT: '2000', MAX_BODY_BYTES: '5000' }, 'MAX_BODY_BYTES_IN_FLIGHT (2000) must be at least MAX_BODY_BYTES (5000).'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS lists the origins allowed, one by one; "*" would let any web page call the API with its visitors\' credentials.'],
    [
      { CORS_ORIGINS: 'https://app.example.com/' },
      'CORS_ORIGINS must be origins such as https://app.example.com (a scheme, a host, a port if not the default; no path or trailing slash); got "https://app.example.com/".',
    ],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent; got "verbose".'],
    [{ METRICS_PORT: 'x' }, 'METRICS_PORT must be a whole number from 0 to 65535; got "x".'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, such as http://127.0.0.1:4318; got "collector:4318".'],
  ])('refuses %o, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
  });
});
