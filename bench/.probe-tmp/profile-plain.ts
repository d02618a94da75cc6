// Temporary: profiles plain Yoga under the bench's hello0 and accounts100 loads.
import { copyFileSync } from 'node:fs';
import { startServer } from '../processes.js';
import { runLoad } from '../loadgen.js';
import { scenarios, classifier } from '../scenarios.js';
import { pinSelfToLoadgenCore } from '../processes.js';
pinSelfToLoadgenCore();
const template = process.argv[2]!;
for (const name of ['hello0', 'accounts100']) {
  const scenario = scenarios.find((s) => s.name === name)!;
  copyFileSync(template, `/tmp/prof/${name}.sqlite`);
  const server = await startServer({ name, script: 'bench/servers/plain-yoga.ts', cwd: '/work/main', logFile: `/tmp/prof/${name}.log`, env: { DB_FILE: `/tmp/prof/${name}.sqlite` }, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=/tmp/prof/plain-${name}`, '--import', '/tmp/prof/exit-on-term.mjs'] });
  const load = await runLoad({ baseUrl: server.url, connections: 50, warmupS: 2, measureS: 8, timeoutS: 10, body: scenario.body, varies: false, classify: classifier(scenario) });
  console.log(name, load.rps.toFixed(0), load.p99Ms);
  await server.stop(15000);
}
