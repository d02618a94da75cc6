import { CodedError } from '../errors.js';

/** The process holds MAX_SUBSCRIPTIONS open subscriptions; this one was not started. */
export class TooManySubscriptionsError extends CodedError {
  constructor(max: number) {
    super('TOO_MANY_SUBSCRIPTIONS', `This server has ${max} subscriptions open, as many as it allows; try again when one has ended.`, { max });
  }
}

/**
 * The subscriptions this process may hold open at once (MAX_SUBSCRIPTIONS), whatever carries them:
 * each open stream holds a slot, and gives it back when it ends, however it ends. One object per
 * app, so that every transport (Server-Sent Events today, a WebSocket one later) counts against the
 * same bound: see src/graphql/plugins/subscription-slots.ts for how a stream takes and returns its slot.
 */
export class SubscriptionSlots {
  #open = 0;

  constructor(readonly max: number) {}

  /** Slots held now. */
  get open(): number {
    return this.#open;
  }

  /**
   * Takes a slot, or throws TooManySubscriptionsError when all are held. Returns the function that
   * gives it back: once, however often it is called, so every way out of a stream may call it.
   */
  acquire(): () => void {
    if (this.#open >= this.max) throw new TooManySubscriptionsError(this.max);
    this.#open += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#open -= 1;
    };
  }
}
