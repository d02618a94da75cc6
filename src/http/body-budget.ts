import type { IncomingMessage } from 'node:http';

/**
 * Bodies up to this size are admitted without counting: nearly every GraphQL request is one, and
 * they must pass even while large uploads fill the budget, or a few slow uploads would refuse
 * everyone. What they can hold together is bounded by MAX_CONNECTIONS times this (and node reads at
 * most 16 KiB ahead of a reader anyway).
 */
export const SMALL_BODY_BYTES = 16 * 1024;

/**
 * The bytes of request bodies being received at once, over all connections: each request with a
 * larger body reserves its declared length (a chunked one, the most it may send, MAX_BODY_BYTES)
 * before it is read, and gives it back once the body has arrived or the request is gone. Without
 * it, a thousand clients sending 999 KB of 1 MB bodies slowly held a gigabyte (REQUEST_TIMEOUT_MS
 * bounds how long each one may take, this how many may take it at once).
 */
export class BodyBudget {
  #available: number;

  constructor(maxBytesInFlight: number) {
    this.#available = maxBytesInFlight;
  }

  /** Reserves `bytes` for the body of `request`; false, reserving nothing, when they would pass the budget. */
  admit(request: IncomingMessage, bytes: number): boolean {
    if (bytes <= SMALL_BODY_BYTES) return true;
    if (bytes > this.#available) return false;
    this.#available -= bytes;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#available += bytes;
    };
    // 'end': the whole body has arrived; 'close': the request is over, read or not, or the client left.
    request.once('end', release);
    request.once('close', release);
    return true;
  }
}
