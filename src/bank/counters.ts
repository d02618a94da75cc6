import { setTimeout } from 'node:timers/promises';
import { readCounter, writeCounter } from '../db/counters.js';
import type { Locks } from '../locks/lock.js';
import { InvalidInputError } from './errors.js';
import { assertInRange, assertLength, INT32_MAX, INT32_MIN } from './input.js';

export const MAX_NAME_LENGTH = 100;
export const MAX_STEP = 1_000_000;
export const MAX_WORK_MS = 5000;

export type Counter = { name: string; value: number };

/** A counter's name: 1 to MAX_NAME_LENGTH characters. */
export function checkCounterName(name: string): void {
  assertLength('name', name, 1, MAX_NAME_LENGTH);
}

/**
 * Adds `by` to a counter as a read-modify-write under the lock of its name: read the value, wait
 * `workMs` (simulated work inside the critical section, which makes the race the lock prevents
 * visible), write the sum. BAD_USER_INPUT, changing nothing, for arguments out of range or a sum
 * that would leave the 32-bit range. Once the lock is held the increment completes, even if the
 * client leaves meanwhile.
 */
export async function increment(locks: Locks, { name, by, workMs }: { name: string; by: number; workMs: number }, { signal }: { signal?: AbortSignal } = {}): Promise<Counter> {
  checkCounterName(name);
  assertInRange('by', by, -MAX_STEP, MAX_STEP);
  assertInRange('workMs', workMs, 0, MAX_WORK_MS);
  return locks.withLocks(
    [`counter:${name}`],
    async (trx) => {
      const value = (await readCounter(trx, name)) + by;
      if (workMs > 0) await setTimeout(workMs);
      if (value < INT32_MIN || value > INT32_MAX) {
        throw new InvalidInputError(`by: adding ${by} would take counter "${name}" outside the 32-bit Int range (${INT32_MIN} to ${INT32_MAX}).`, { argument: 'by' });
      }
      await writeCounter(trx, name, value);
      return { name, value };
    },
    { signal },
  );
}
