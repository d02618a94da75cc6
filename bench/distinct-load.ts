// Load for cpu-per-request.sh when every request must be a new text: AMOUNT POSTs of the body in
// BODY_FILE over 20 connections, with each `[<id>]` in it replaced by a counter. (autocannon's own
// -I keeps the template's Content-Length, so the server waits for bytes that never come.)
//
//   node --import tsx bench/distinct-load.ts URL BODY_FILE AMOUNT
import { readFileSync } from 'node:fs';
import autocannon, { type RequestParams } from 'autocannon';

const [url, bodyFile, amount] = process.argv.slice(2);
if (!url || !bodyFile || !amount) throw new Error('usage: distinct-load.ts URL BODY_FILE AMOUNT');
const template = readFileSync(bodyFile, 'utf8').trim();
let next = 0;
const body = () => template.replaceAll('[<id>]', String(next++));

autocannon(
  {
    url,
    connections: 20,
    amount: Number(amount),
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: body(), setupRequest: (request: RequestParams) => ({ ...request, body: body() }) }],
  },
  (error, result) => {
    if (error) throw error;
    if (result.errors || result.non2xx) throw new Error(`${result.errors} errors, ${result.non2xx} non-2xx responses`);
  },
);
