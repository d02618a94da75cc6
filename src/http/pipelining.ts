import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const QUEUED = Symbol('queuedRequests');
type CountedSocket = Socket & { [QUEUED]?: number };

/**
 * Bounds the requests a client may pipeline on one connection ahead of their answers. node:http
 * parses and starts every pipelined request at once (it stops reading only once answers wait to be
 * sent), so without a bound one connection could hold thousands of waiting requests, and
 * MAX_CONNECTIONS would bound nothing. Past `max`, the connection is closed: a client that
 * pipelines that deep is not one a browser or an HTTP library makes.
 *
 * Cost: one property read per request. A request is pipelined when its response cannot have the
 * socket yet (another response is being written on it): only those are counted.
 */
export function createPipeliningLimit(max: number): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (res.socket !== null) return true;
    const socket = req.socket as CountedSocket;
    const queued = (socket[QUEUED] ?? 0) + 1;
    if (queued > max) {
      socket.destroy();
      return false;
    }
    socket[QUEUED] = queued;
    res.once('close', () => void (socket[QUEUED]! -= 1));
    return true;
  };
}
