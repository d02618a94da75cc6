import { CodedError } from '../errors.js';

/** A lock was not granted within LOCK_TIMEOUT_MS; nothing was run, so nothing was changed. */
export class LockTimeoutError extends CodedError {
  constructor(timeoutMs: number) {
    super('LOCK_TIMEOUT', `The operation waited ${timeoutMs} ms for a lock without getting it; nothing was changed. Try again.`);
  }
}
