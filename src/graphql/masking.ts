import type { GraphQLError } from 'graphql';
import { maskError, type YogaLogger } from 'graphql-yoga';
import { rememberMasked } from '../observability/unexpected-errors.js';
import { toClientError } from './errors.js';

/** What a client is told in place of an unexpected error: Yoga's default `maskedErrors.errorMessage`. */
const UNEXPECTED_ERROR = 'Unexpected error.';

/**
 * Yoga's `maskedErrors.maskError`: an error with a code keeps it (toClientError), anything else is
 * a bug and becomes "Unexpected error.", never with its stack, whatever NODE_ENV says (Yoga's
 * development mode would put it, file paths included, in the response).
 */
export const maskUnexpectedError = (error: unknown, message: string): Error => toClientError(error) ?? maskUnexpected(error, message);

/** Masks a bug's error, and remembers what it masked for the log line of its request (src/observability/unexpected-errors.ts). */
function maskUnexpected(error: unknown, message: string): Error {
  const masked = maskError(error, message, false);
  rememberMasked(masked, error);
  return masked;
}

/**
 * The errors Yoga answers when its handling of a request throws outside the operation (in an
 * onParams or onExecutionResult hook): its `handleError` (graphql-yoga's src/error.ts, which the
 * package does not export), for masking that is always on. An aggregate gives each of its errors; an
 * abort gives none (the client has gone); anything else is masked, and logged when it was.
 */
export function errorsOfThrow(error: unknown, logger: YogaLogger): GraphQLError[] {
  if (isAggregate(error)) return error.errors.flatMap((each) => errorsOfThrow(each, logger));
  if (isAbort(error)) {
    logger.debug('Request aborted');
    return [];
  }
  const masked = maskUnexpectedError(error, UNEXPECTED_ERROR) as GraphQLError;
  if (masked !== error) logger.error(error);
  return [masked];
}

const isAggregate = (error: unknown): error is { errors: unknown[] } => error != null && typeof error === 'object' && 'errors' in error;
const isAbort = (error: unknown): boolean =>
  typeof error === 'object' && error?.constructor?.name === 'DOMException' && ['AbortError', 'TimeoutError'].includes((error as DOMException).name);
