type Request = { weight: number; grant: () => void };

/** How often queued requests are granted: coarse enough to hand out many per timer, fine enough to keep latency low. */
const TICK_MS = 10;

/**
 * What every subscription of this process may spend on sending events: `perSecond` events a second
 * (SUBSCRIPTION_EVENTS_PER_SECOND), an event that can load many objects weighing more than one
 * (event-weight.ts). Each event executes its subscription's selection set, so N subscribers of one
 * job cost N executions per change; this budget is what bounds their CPU, however many are open.
 *
 * A token bucket: up to a tenth of a second's worth can go at once, and requests past it wait their
 * turn, first come first served, handed out in small groups every TICK_MS so that the event loop
 * stays free between them. A request heavier than what is left still goes, and the debt delays the
 * next ones: a costly event cannot jump the queue, but it is not refused either.
 */
export class EventBudget {
  readonly #burst: number;
  #tokens: number;
  #refilledAt = performance.now();
  /** Waiting requests in arrival order (a Set keeps insertion order and deletes in O(1)). */
  readonly #queue = new Set<Request>();
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly perSecond: number) {
    this.#burst = Math.max(1, perSecond / 10);
    this.#tokens = this.#burst;
  }

  /** Requests waiting for their turn. */
  get waiting(): number {
    return this.#queue.size;
  }

  /**
   * Calls `grant` once `weight` may be spent, after every request made before it (at once, before
   * returning, when nobody waits and the bucket is not empty). Returns a function that withdraws
   * the request if it has not been granted yet.
   */
  request(weight: number, grant: () => void): () => void {
    if (this.#queue.size === 0) {
      this.#refill();
      if (this.#tokens > 0) {
        this.#tokens -= weight;
        grant();
        return noop;
      }
    }
    const request = { weight, grant };
    this.#queue.add(request);
    this.#timer ??= setTimeout(this.#tick, TICK_MS);
    return () => void this.#queue.delete(request);
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) * this.perSecond) / 1000);
    this.#refilledAt = now;
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    this.#refill();
    for (const request of this.#queue) {
      if (this.#tokens <= 0) break;
      this.#queue.delete(request);
      this.#tokens -= request.weight;
      request.grant();
    }
    if (this.#queue.size > 0) this.#timer = setTimeout(this.#tick, TICK_MS);
  };
}

const noop = () => undefined;
