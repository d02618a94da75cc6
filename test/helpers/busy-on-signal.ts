// Preloaded into a server process (node --import) by the shutdown test: on SIGUSR2, the event loop is
// held by a synchronous loop, as a long synchronous task would hold it, until the file named by
// BUSY_UNTIL_FILE exists. Meanwhile the kernel accepts connections that node cannot, and signals
// wait. Test-only: nothing in src/ loads it.
import { existsSync, writeSync } from 'node:fs';

process.on('SIGUSR2', () => {
  const file = process.env.BUSY_UNTIL_FILE;
  if (!file) return;
  writeSync(1, 'event loop busy\n');
  while (!existsSync(file)) {
    // Spinning on purpose: this is the busy event loop under test.
  }
});
