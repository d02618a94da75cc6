import { CodedError } from '../errors.js';

// The bank's refusals. Each changes nothing: they are raised before any write, or inside the
// transaction that then rolls back.

/** An argument is malformed or out of its allowed range; the message names it and the range. */
export class InvalidInputError extends CodedError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('BAD_USER_INPUT', message, details);
  }
}

/** A thing named by the request does not exist. */
export class NotFoundError extends CodedError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} "${id}" was not found.`, { id });
  }
}

export class InsufficientFundsError extends CodedError {
  constructor({ accountId, balance, amount }: { accountId: string; balance: number; amount: number }) {
    super('INSUFFICIENT_FUNDS', `Account "${accountId}" has a balance of ${balance}, less than the ${amount} requested.`, { accountId, balance, amount });
  }
}

/** The queue is at QUEUE_MAX_PENDING; nothing was enqueued. */
export class QueueFullError extends CodedError {
  constructor({ active, adding, max }: { active: number; adding: number; max: number }) {
    super('QUEUE_FULL', `The queue holds ${active} items waiting or running; ${adding} more would pass its bound of ${max}. Nothing was enqueued; try again later.`, {
      active,
      adding,
      max,
    });
  }
}
