import { INT32_MAX } from './input.js';

/**
 * A row id as stored, or null when the id a client gave cannot name a row ("abc", "01", "-1",
 * "99999999999": past the integer columns' bound). Callers treat null as "unknown", never as an
 * error of its own.
 */
export function parseId(id: string): number | null {
  if (!/^[1-9]\d{0,9}$/.test(id)) return null;
  const value = Number(id);
  return value <= INT32_MAX ? value : null;
}
