import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LineBatches } from '../src/observability/log-batches.js';

const LINES = 20_000;
/** "line 00042 xxx…\n", 100 bytes each: 2 MB in all, eight times what may wait for the reader below. */
const line = (n: number) => `line ${String(n).padStart(5, '0')} ${'x'.repeat(88)}\n`;

describe('the log batches', () => {
  it('keeps the lines it writes whole and in order when a reader that stalls makes it drop the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-batches-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    // The reader's end, open (so that the writer's opens) but not read yet: a log shipper that stalls.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const batches = LineBatches.to(fifo, { maxBufferedBytes: 256 * 1024 });
    for (let n = 0; n < LINES; n += 1) {
      batches.write(line(n));
      // Turns of the event loop, for sonic-boom's writes to go on while lines come.
      if (n % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    // Every line handed over is written or dropped once flush calls back; then the pipe holds the rest.
    let flushed = false;
    batches.flush(() => (flushed = true));
    const received: Buffer[] = [];
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      let read = 0;
      try {
        read = readSync(reader, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      if (read > 0) received.push(Buffer.from(chunk.subarray(0, read)));
      else if (flushed) break;
      else await new Promise((resolve) => setImmediate(resolve));
    }
    closeSync(reader);

    const lines = Buffer.concat(received).toString('utf8').split('\n').slice(0, -1);
    const numbers = lines.map((text) => {
      expect(`${text}\n`).toBe(line(Number(text.slice(5, 10))));
      return Number(text.slice(5, 10));
    });
    // Some were dropped (the bound held), and those written are whole, each once, in order.
    expect(numbers.length).toBeGreaterThan(0);
    expect(numbers.length).toBeLessThan(LINES);
    expect(numbers.every((n, index) => index === 0 || n > numbers[index - 1]!)).toBe(true);
  });
});
