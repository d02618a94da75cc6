/**
 * The unexpected errors of operations (bugs: anything the bank did not raise with a code), which
 * the client sees masked as INTERNAL_SERVER_ERROR and the log must show in full. Yoga logs them at
 * the moment it masks them, when the request they belong to is not known; the GraphQL observation
 * plugin logs them once the result is out, with the request's id. So the masking marks each masked
 * error with its cause, the plugin logs the cause and marks it logged, and Yoga's line (logger.ts)
 * is only written, a turn later, for a cause no request logged (an error thrown outside execution).
 */
const causes = new WeakMap<object, unknown>();
const unexpected = new WeakSet<object>();
const logged = new WeakSet<object>();

/** Called by the masking (src/graphql/yoga.ts): `masked` is what the client gets in place of `error`, which Yoga logs. */
export function rememberMasked(masked: object, error: unknown): void {
  causes.set(masked, error);
  if (typeof error === 'object' && error !== null) unexpected.add(error);
}

/** Whether Yoga masked `error` as unexpected; the errors it maps to a code (a client's mistakes, refusals) are not. */
export function isUnexpected(error: unknown): boolean {
  return typeof error === 'object' && error !== null && unexpected.has(error);
}

export function causeOfMasked(masked: object): unknown {
  return causes.get(masked);
}

export function markLogged(cause: unknown): void {
  if (typeof cause === 'object' && cause !== null) logged.add(cause);
}

export function wasLogged(cause: unknown): boolean {
  return typeof cause === 'object' && cause !== null && logged.has(cause);
}
