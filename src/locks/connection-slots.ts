import { Semaphore } from 'async-mutex';
import { acquireBefore } from './deadline.js';

/**
 * How many pooled connections lock holders may take at once (DATABASE_LOCK_CONNECTIONS), so that
 * the rest of the pool stays for reads and /readiness. A lock holder keeps its connection for as
 * long as its work lasts (an `increment` waits up to 5 s inside its lock): without a bound, ten
 * slow increments on distinct names took every connection, and unrelated reads failed after
 * waiting 3 s for one.
 *
 * Waiters queue in memory, first come first served, and wait within their lock deadline: one
 * that is not served in time fails with LOCK_TIMEOUT, having run nothing.
 */
export class ConnectionSlots {
  readonly #slots: Semaphore;

  constructor(
    readonly size: number,
    private readonly timeoutMs: number,
  ) {
    this.#slots = new Semaphore(size);
  }

  /** Takes a slot, waiting at most until `deadline`; returns its release. */
  async acquire(deadline: number, signal: AbortSignal | undefined): Promise<() => void> {
    signal?.throwIfAborted();
    // A slot free: no timer and no listener to set up.
    if (!this.#slots.isLocked()) return (await this.#slots.acquire())[1];
    const [, release] = await acquireBefore(this.#slots.acquire(), ([, release]) => release(), deadline, this.timeoutMs, signal);
    return release;
  }

  /** Slots in use; for tests. */
  get inUse(): number {
    return this.size - this.#slots.getValue();
  }
}
