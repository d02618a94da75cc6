const MAX_ID = 2_147_483_647; // the integer columns' upper bound

/**
 * A row id as stored, or null when the GraphQL ID cannot name a row ("abc", "01", "-1",
 * "99999999999"). Callers treat null as "unknown", never as an error of its own.
 */
export function parseId(id: string): number | null {
  if (!/^[1-9]\d{0,9}$/.test(id)) return null;
  const value = Number(id);
  return value <= MAX_ID ? value : null;
}
