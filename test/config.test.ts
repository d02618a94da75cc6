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
});
