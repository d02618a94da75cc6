import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export type SlowReaderLimits = {
  /** How long a connection's response bytes may wait, without its queue ever emptying, for the client to read them. */
  sendTimeoutMs: number;
  /** Response bytes queued in this process for all clients together. */
  maxQueuedBytes: number;
};

const QUEUED_SINCE = Symbol('queuedSince');
type TrackedSocket = Socket & { [QUEUED_SINCE]?: number };

/**
 * Drops the connections of clients that do not read their responses, so that they cannot pin the
 * server's memory. node:http hands a response to the socket whole; what the kernel's buffers do not
 * take stays queued in the process (socket.writableLength) until the client reads. A client that
 * asks for large answers and never reads would hold each one for as long as it keeps the connection
 * open, and a few dozen such clients could take the process down.
 *
 * Every `sweepMs` (a quarter of the send timeout, at most 250 ms), the connections are checked:
 * - one whose queue has not emptied once for `sendTimeoutMs` is closed;
 * - while the bytes queued on all connections together pass `maxQueuedBytes`, the connection with
 *   the longest queue is closed, then the next.
 * A closed connection frees its queue; its client sees the connection end before the response did.
 *
 * Cost: nothing per request; a Set entry and a shared 'close' listener per connection; the sweep
 * reads one number per connection (under a millisecond for 10,000 connections). A response that a
 * client reads normally never shows: its bytes go to the kernel as they are written.
 */
export function dropSlowReaders(server: Server, { sendTimeoutMs, maxQueuedBytes }: SlowReaderLimits): { stop(): void } {
  const sockets = new Set<TrackedSocket>();
  function forget(this: TrackedSocket) {
    sockets.delete(this);
  }
  const track = (socket: TrackedSocket) => {
    sockets.add(socket);
    socket.once('close', forget);
  };
  server.on('connection', track);

  const sweep = () => {
    const now = performance.now();
    let total = 0;
    let queues: TrackedSocket[] | undefined;
    for (const socket of sockets) {
      const queued = socket.writableLength;
      if (queued === 0 || socket.destroyed) {
        socket[QUEUED_SINCE] = undefined;
        continue;
      }
      const since = (socket[QUEUED_SINCE] ??= now);
      if (now - since >= sendTimeoutMs) {
        socket.destroy();
        continue;
      }
      total += queued;
      (queues ??= []).push(socket);
    }
    if (total <= maxQueuedBytes || !queues) return;
    queues.sort((a, b) => b.writableLength - a.writableLength);
    for (const socket of queues) {
      if (total <= maxQueuedBytes) break;
      total -= socket.writableLength;
      socket.destroy();
    }
  };
  const interval = setInterval(sweep, Math.min(250, sendTimeoutMs / 4)).unref();
  return {
    stop() {
      clearInterval(interval);
      server.off('connection', track);
    },
  };
}
