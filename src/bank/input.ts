import { InvalidInputError } from './errors.js';

// What the bank accepts, checked before any lock, wait or write. The messages name the argument
// and the range, so that a client can fix the request without reading the docs.

/** GraphQL's Int, and the integer columns of the database: 32-bit signed. */
export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

/** Checks that an integer is within [min, max]; `details` adds to the error's (a job's item gives its index). */
export function assertInRange(argument: string, value: number, min: number, max: number, details: Record<string, unknown> = {}): void {
  if (value < min || value > max) {
    throw new InvalidInputError(`${argument} must be between ${min} and ${max}; got ${value}.`, { ...details, argument, min, max });
  }
}

/** Checks a string's length in characters (code points). */
export function assertLength(argument: string, value: string, min: number, max: number): void {
  const length = [...value].length;
  if (length < min || length > max) {
    throw new InvalidInputError(`${argument} must be ${min} to ${max} characters long; got ${length}.`, { argument, min, max });
  }
}
