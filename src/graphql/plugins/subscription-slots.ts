import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { SubscriptionSlots } from '../../subscriptions/subscription-slots.js';
import { toClientError } from '../errors.js';

type Stream = AsyncIterable<ExecutionResult>;

/**
 * Every subscription holds one of `slots` while its stream is open. In envelop's subscribe, so it
 * counts every subscription field and every transport that runs operations through Yoga (a
 * graphql-ws server built on `yoga.getEnveloped` included).
 *
 * The slot is taken when the stream is first read, not when the operation is subscribed: a stream
 * that nobody reads (a subscription POSTed without `Accept: text/event-stream` gets a 406 and is
 * dropped, never returned) then never holds one, and so cannot leak one. Past the bound, the first
 * read gets one result with TOO_MANY_SUBSCRIPTIONS and the stream ends, as a NOT_FOUND would.
 */
export function useSubscriptionSlots(slots: SubscriptionSlots): Plugin {
  return {
    onSubscribe: () => ({
      onSubscribeResult({ result, setResult }) {
        if (isAsyncIterable(result)) setResult(holdingSlot(slots, result as Stream));
      },
    }),
  };
}

/**
 * `stream`, holding a slot from its first read until it ends: completed, failed, or returned by
 * its consumer (the client left, the server shuts down). `return()` gives the slot back at once,
 * even while a read is pending, and passes the return on.
 */
function holdingSlot(slots: SubscriptionSlots, stream: Stream): AsyncIterableIterator<ExecutionResult> {
  let state: 'unread' | 'open' | 'ended' = 'unread';
  let release = (): void => undefined;
  let iterator: AsyncIterator<ExecutionResult> | undefined;
  const end = () => {
    state = 'ended';
    release();
  };
  const done = (): IteratorResult<ExecutionResult> => ({ done: true, value: undefined });

  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (state === 'ended') return done();
      if (state === 'unread') {
        try {
          release = slots.acquire();
        } catch (error) {
          end();
          // The operation's own stream was never read: let it close whatever it opened lazily.
          await stream[Symbol.asyncIterator]().return?.();
          const refusal = toClientError(error);
          if (!refusal) throw error;
          return { done: false, value: { errors: [refusal] } };
        }
        state = 'open';
        iterator = stream[Symbol.asyncIterator]();
      }
      try {
        const result = await iterator!.next();
        if (result.done) end();
        return result;
      } catch (error) {
        end();
        throw error;
      }
    },
    async return() {
      end();
      await iterator?.return?.();
      return done();
    },
    async throw(error: unknown) {
      end();
      await iterator?.return?.();
      throw error;
    },
  };
}
