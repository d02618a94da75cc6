// `npm start`: builds src/ if it changed (scripts/build.mjs), then runs the server in this very
// process. One process, not a launcher and a child: the node flags of the start script apply to the
// server, and a signal sent to `npm start` reaches the server itself (src/signals.ts).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BuildError, buildOnce } from './build.mjs';

let build;
try {
  build = buildOnce();
} catch (error) {
  console.error(error instanceof BuildError ? error.message : error);
  process.exit(1);
}
await import(pathToFileURL(join(build, 'main.js')).href);
