import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import { ResponseTooLargeError } from '../errors.js';

/** Error messages longer than this are cut: some quote the client's input (a variable's value, a field name) whole. */
export const MAX_ERROR_MESSAGE_LENGTH = 1_000;

type Result = ExecutionResult & { stringify?: (result: ExecutionResult) => string };
type ResultInput = Result | Result[] | AsyncIterable<Result>;

export type ResponseSizeLimit = {
  plugin: Plugin;
  /**
   * Gives a result (each item of a batch, each event of a stream) the serialiser that bounds it. The
   * HTTP fast path calls it on the results it answers itself; the plugin, on every result Yoga answers.
   */
  bound<T>(result: T): T;
  /**
   * The result as the client should get it: itself, its long error messages cut, or the
   * RESPONSE_TOO_LARGE refusal. For transports that serialise results themselves (graphql-ws).
   */
  fit(result: ExecutionResult): ExecutionResult;
};

/**
 * Bounds every response body (and every Server-Sent Event) to `maxBytes` of JSON: a result that
 * would be larger is answered with one RESPONSE_TOO_LARGE error and `data: null` instead. Leaf
 * fields cost nothing to resolve, so a small query can ask for a large answer (one long string
 * under a hundred aliases, a thousand objects with many fields), and nothing else bounds it.
 *
 * Where: Yoga serialises a result with `result.stringify` when there is one, else JSON.stringify
 * (jsonStringifyResultWithoutInternals, for plain JSON and for each SSE event alike). So the bound
 * is a `stringify` given to each result, and both the fast path and Yoga's result processors
 * answer with the same bytes. The status and headers are chosen before serialisation, from the
 * result as it was: 200 for a result with data, as for any execution error.
 *
 * Cost: the data is first walked for a lower bound of its JSON size (each string's length), which
 * stops as soon as the bound passes `maxBytes`; so a response far past the limit is refused without
 * being built, and the walk's work is bounded by the limit, not by the response. Past the walk, the
 * JSON is built once and measured: its length in UTF-16 units times three bounds its UTF-8 bytes, so
 * Buffer.byteLength runs only for responses within a factor of three of the limit.
 */
export function createResponseSizeLimit(maxBytes: number): ResponseSizeLimit {
  const refusalResult: ExecutionResult = { errors: [new ResponseTooLargeError(maxBytes)], data: null };
  const refusal = JSON.stringify(refusalResult);
  /** The result's JSON, its long messages cut; undefined when it would pass maxBytes. */
  const boundedJson = (result: ExecutionResult): string | undefined => {
    if (result.data != null && remainingAfter(result.data, maxBytes) < 0) return undefined;
    const json = JSON.stringify(result.errors === undefined ? result : withShortMessages(result));
    return json.length * 3 <= maxBytes || Buffer.byteLength(json) <= maxBytes ? json : undefined;
  };
  const stringify = (result: ExecutionResult): string => boundedJson(result) ?? refusal;
  const giveStringify = (result: Result): Result => {
    result.stringify = stringify;
    return result;
  };
  const bound = <T>(result: T): T => {
    const input = result as ResultInput | undefined;
    if (input == null) return result;
    if (isAsyncIterable(input)) return mapAsyncIterator(input, giveStringify) as unknown as T;
    if (Array.isArray(input)) return input.map(giveStringify) as unknown as T;
    return giveStringify(input) as unknown as T;
  };
  return {
    bound,
    fit: (result) => (boundedJson(result) === undefined ? refusalResult : result.errors === undefined ? result : withShortMessages(result)),
    plugin: {
      onResultProcess({ result, setResult }) {
        setResult(bound(result));
      },
    },
  };
}

/**
 * `budget` less at most as many bytes as `node`'s JSON has, stopping once below zero: each string
 * counts its length and quotes, each key its length, quotes and colon, every other value one
 * character. Results hold only JSON values (the executor has serialised scalars already). A plain
 * recursive function, no closure: it runs for every response (14 ns for `{ hello }`).
 */
function remainingAfter(node: unknown, budget: number): number {
  if (typeof node === 'string') return budget - node.length - 2;
  if (typeof node !== 'object' || node === null) return budget - 1;
  if (Array.isArray(node)) {
    budget -= node.length + 1;
    for (let index = 0; index < node.length && budget >= 0; index++) budget = remainingAfter(node[index], budget);
    return budget;
  }
  budget -= 2;
  for (const key in node) {
    const item = (node as Record<string, unknown>)[key];
    if (item === undefined || typeof item === 'function') continue;
    budget = remainingAfter(item, budget - key.length - 3);
    if (budget < 0) return budget;
  }
  return budget;
}

function withShortMessages(result: ExecutionResult): ExecutionResult {
  if (!result.errors!.some((error) => error.message.length > MAX_ERROR_MESSAGE_LENGTH)) return result;
  const errors = result.errors!.map((error) =>
    error.message.length > MAX_ERROR_MESSAGE_LENGTH ? { ...error.toJSON(), message: cut(error.message) } : error,
  );
  return { ...result, errors } as ExecutionResult;
}

/** The message's start and end, with how much was left out: what a developer needs to recognise it. */
export function cut(message: string): string {
  const keep = MAX_ERROR_MESSAGE_LENGTH / 2 - 20;
  return `${message.slice(0, keep)} … (${message.length - 2 * keep} characters left out) … ${message.slice(-keep)}`;
}
