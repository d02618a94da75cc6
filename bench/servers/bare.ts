// The ceiling: node:http answering every request with the hello payload, no GraphQL at all. Whatever
// a GraphQL server does costs throughput relative to this. DELAY_MS (default 0) mimics hello's timer
// for POSTs; other requests (the bench's GET /health) are answered at once.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 0);
const delayMs = Number(process.env.DELAY_MS ?? 0);
const payload = JSON.stringify({ data: { hello: 'Hello, World' } });

createServer((request, response) => {
  const answer = () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    response.end(payload);
  };
  // Read the whole body first, as any real server must before it answers.
  request.resume();
  request.once('end', () => (delayMs > 0 && request.method === 'POST' ? setTimeout(answer, delayMs) : answer()));
}).listen(port, '127.0.0.1', () => console.log(`bare server on http://127.0.0.1:${port} (delay ${delayMs} ms)`));
