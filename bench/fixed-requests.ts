// Sends exactly N `{ hello(delayMs: 0) }` POSTs to 127.0.0.1:PORT over 8 keep-alive connections and
// waits for every answer; exits 1 if any was not a 200. With BROWSER=1, each carries a browser's
// headers (scenarios.ts's BROWSER_HEADERS). For bench/instructions-per-request.sh.
//
//   npx tsx bench/fixed-requests.ts PORT N
import { Agent, request } from 'node:http';
import { BROWSER_HEADERS } from './scenarios.js';

const [port, count] = process.argv.slice(2).map(Number) as [number, number];
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const body = JSON.stringify({ query: '{ hello(delayMs: 0) }' });
const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...(process.env.BROWSER === '1' ? BROWSER_HEADERS : {}) };
let sent = 0;
let failed = 0;

const one = () =>
  new Promise<void>((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/graphql', method: 'POST', agent, headers }, (res) => {
      if (res.statusCode !== 200) failed += 1;
      res.resume().on('end', resolve);
    });
    req.on('error', reject).end(body);
  });

await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (sent < count) {
      sent += 1;
      await one();
    }
  }),
);
agent.destroy();
if (failed > 0) {
  console.error(`${failed} of ${count} requests were not answered 200`);
  process.exit(1);
}
