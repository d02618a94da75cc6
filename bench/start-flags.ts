// The node flags of package.json's start script, for whatever starts our server without npm: the
// bench (targets.ts) and the profiling scripts, which need node's own PID. Run directly, it prints
// them: `node $(npx tsx bench/start-flags.ts) "$(node scripts/build.mjs)/main.js"`.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The node flags of package.json's start script (`exec node FLAGS scripts/start.mjs`): V8's heap
 * sizing is set there (see the README), and a server run without them is not the server `npm start`
 * runs. Read from `runDir`'s package.json: the bench passes the copy beside its build, so the flags
 * and the code it measures come from the same moment.
 */
export function startFlags(runDir: string): string[] {
  const { scripts } = JSON.parse(readFileSync(join(runDir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  // scripts/start.mjs since the builds went to dist/<hash>/; dist/main.js before, for profiles of older checkouts.
  const start = /\bnode((?:\s+-\S+)*)\s+(?:scripts\/start\.mjs|dist\/main\.js)(?:\s|$)/.exec(scripts?.start ?? '');
  if (!start) throw new Error(`package.json's start script (${JSON.stringify(scripts?.start)}) does not run "node [flags] scripts/start.mjs": the bench cannot start our server as npm start does`);
  return start[1]!.split(/\s+/).filter(Boolean);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(startFlags(process.argv[2] ?? join(fileURLToPath(import.meta.url), '../..')).join(' '));
}
