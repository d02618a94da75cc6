import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('takes the HTTP fast path unless HTTP_FAST_PATH says false or 0', () => {
    expect(loadConfig({}).httpFastPath).toBe(true);
    expect(loadConfig({ HTTP_FAST_PATH: 'true' }).httpFastPath).toBe(true);
    expect(loadConfig({ HTTP_FAST_PATH: ' FALSE ' }).httpFastPath).toBe(false);
    expect(loadConfig({ HTTP_FAST_PATH: '0' }).httpFastPath).toBe(false);
  });

  it('refuses a boolean it cannot read, naming the variable and the value', () => {
    expect(() => loadConfig({ HTTP_FAST_PATH: 'maybe' })).toThrow(new ConfigError('HTTP_FAST_PATH must be true or false; got "maybe".'));
  });

  it('reads the queue settings, QUEUE_RETENTION as milliseconds or with a unit, and refuses a retention it cannot read', () => {
    expect(loadConfig({}).queue).toMatchObject({ batchSize: 100, maxAttempts: 5, retryBaseMs: 1_000, retentionMs: 7 * 86_400_000 });
    expect(loadConfig({ QUEUE_RETENTION: '12h', QUEUE_MAX_ATTEMPTS: '3' }).queue).toMatchObject({ retentionMs: 43_200_000, maxAttempts: 3 });
    expect(loadConfig({ QUEUE_RETENTION: '90000' }).queue.retentionMs).toBe(90_000);
    expect(loadConfig({ QUEUE_RETENTION: '30m' }).queue.retentionMs).toBe(1_800_000);
    expect(() => loadConfig({ QUEUE_RETENTION: '1 week' })).toThrow(
      new ConfigError('QUEUE_RETENTION must be a duration from 1000 ms to 3650 days: milliseconds, or a whole number with ms, s, m, h or d (such as 12h or 7d); got "1 week".'),
    );
    expect(() => loadConfig({ QUEUE_MAX_ATTEMPTS: '0' })).toThrow(new ConfigError('QUEUE_MAX_ATTEMPTS must be a whole number from 1 to 100; got "0".'));
  });

  it('reads the subscription bounds, with their defaults, and refuses one out of range', () => {
    expect(loadConfig({}).subscriptions).toEqual({ maxOpen: 5_000, eventsPerSecond: 1_000 });
    expect(loadConfig({ MAX_SUBSCRIPTIONS: '20', SUBSCRIPTION_EVENTS_PER_SECOND: '300' }).subscriptions).toEqual({ maxOpen: 20, eventsPerSecond: 300 });
    expect(() => loadConfig({ MAX_SUBSCRIPTIONS: '0' })).toThrow(new ConfigError('MAX_SUBSCRIPTIONS must be a whole number from 1 to 1000000; got "0".'));
    expect(() => loadConfig({ SUBSCRIPTION_EVENTS_PER_SECOND: 'fast' })).toThrow(
      new ConfigError('SUBSCRIPTION_EVENTS_PER_SECOND must be a whole number from 1 to 10000000; got "fast".'),
    );
  });

  it('keeps all but two of the PostgreSQL pool for lock holders unless DATABASE_LOCK_CONNECTIONS says otherwise', () => {
    const postgres = (env: Record<string, string>) => loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/bank', ...env }).database;
    expect(postgres({})).toMatchObject({ poolSize: 10, lockConnections: 8 });
    expect(postgres({ DATABASE_POOL_SIZE: '2' })).toMatchObject({ poolSize: 2, lockConnections: 1 });
    expect(postgres({ DATABASE_POOL_SIZE: '20', DATABASE_LOCK_CONNECTIONS: '5' })).toMatchObject({ poolSize: 20, lockConnections: 5 });
  });

  it('refuses a lock share that would leave no connection for reads, naming the range', () => {
    expect(() => loadConfig({ DATABASE_LOCK_CONNECTIONS: '10' })).toThrow(new ConfigError('DATABASE_LOCK_CONNECTIONS must be a whole number from 1 to 9; got "10".'));
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '1' })).toThrow(new ConfigError('DATABASE_POOL_SIZE must be a whole number from 2 to 1000; got "1".'));
  });

  it('bounds string arguments at 1,000 characters unless MAX_STRING_LENGTH says otherwise', () => {
    expect(loadConfig({}).limits.maxStringLength).toBe(1000);
    expect(loadConfig({ MAX_STRING_LENGTH: '200' }).limits.maxStringLength).toBe(200);
    expect(() => loadConfig({ MAX_STRING_LENGTH: '0' })).toThrow(new ConfigError('MAX_STRING_LENGTH must be a whole number from 1 to 1000000000; got "0".'));
  });
});
