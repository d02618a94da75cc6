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

  it('reads the subscription bounds, with their defaults, and refuses one out of range', () => {
    expect(loadConfig({}).subscriptions).toEqual({ maxOpen: 5_000, eventsPerSecond: 1_000 });
    expect(loadConfig({ MAX_SUBSCRIPTIONS: '20', SUBSCRIPTION_EVENTS_PER_SECOND: '300' }).subscriptions).toEqual({ maxOpen: 20, eventsPerSecond: 300 });
    expect(() => loadConfig({ MAX_SUBSCRIPTIONS: '0' })).toThrow(new ConfigError('MAX_SUBSCRIPTIONS must be a whole number from 1 to 1000000; got "0".'));
    expect(() => loadConfig({ SUBSCRIPTION_EVENTS_PER_SECOND: 'fast' })).toThrow(
      new ConfigError('SUBSCRIPTION_EVENTS_PER_SECOND must be a whole number from 1 to 10000000; got "fast".'),
    );
  });
});
