const DIGITS = /^\d+$/;

/**
 * The body size a Content-Length header declares: undefined when there is none, NaN when the value
 * is not a byte count (RFC 9110 allows digits only: no sign, no spaces, no fraction), so that
 * every comparison with a bound is false. The one reading of Content-Length, for the fast path's
 * decisions (request-listener.ts) and for Yoga's path (body-limit.ts).
 */
export function declaredContentLength(header: string | null | undefined): number | undefined {
  if (header == null) return undefined;
  return DIGITS.test(header) ? Number(header) : Number.NaN;
}
