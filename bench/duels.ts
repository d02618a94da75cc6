// Issue 13's two ratios, measured by bench/duel.sh: each pair of configurations of our server run at
// the same moment on core 0, in cpu cgroups of equal shares, each loaded by its own wrk on core 1.
// Runs one after another move by up to a fifth on a shared machine, as much as the ratios' margin;
// a duel's two sides share the machine's noise, so their ratio keeps still (bench/README.md,
// "Observing, and the browser's request, measured in duels").
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BROWSER_HEADERS, scenarios } from './scenarios.js';
import { median } from './stats.js';

/** One pair: scenario A against scenario B, both ours, differing in one thing. */
export type DuelPair = {
  scenario: string;
  reference: string;
  /** duel.sh's words for each side (bench/duel.sh: VAR=value, BROWSER=1); BUILD= is added here. */
  a: string;
  b: string;
};

/** duel.sh's words for one of our scenarios, as bench/scenarios.ts runs it: its environment, and BROWSER=1 for a browser's headers. */
function wordsOf(name: string): string {
  const scenario = scenarios.find((s) => s.name === name);
  if (!scenario) throw new Error(`bench/duels.ts: no scenario named ${name}`);
  const words = Object.entries(scenario.oursEnv ?? {}).map(([variable, value]) => `${variable}=${value}`);
  if (scenario.headers === BROWSER_HEADERS) words.unshift('BROWSER=1');
  else if (scenario.headers) throw new Error(`bench/duels.ts: duel.sh sends plain or browser headers only, not ${name}'s`);
  if (words.some((word) => /\s/.test(word))) throw new Error(`bench/duels.ts: ${name}'s environment has a space, which duel.sh would split`);
  return words.join(' ');
}

export const DUEL_PAIRS: readonly DuelPair[] = [
  ['helloBrowser', 'hello0'],
  ['helloObserved', 'helloUnobserved'],
].map(([scenario, reference]) => ({ scenario: scenario!, reference: reference!, a: wordsOf(scenario!), b: wordsOf(reference!) }));

export type DuelResult = {
  pair: DuelPair;
  /** A/B of each round. */
  ratios: number[];
  median?: number;
  /** Why there are no figures, or what went wrong in a round (errors under load). */
  problem?: string;
  /** duel.sh's output, for the report's details. */
  output: string;
};

/**
 * Runs duel.sh for each pair whose two scenarios are both selected, `rounds` rounds of `seconds`,
 * on the bench's build of our server (`buildDir`: its main.js, and the flags of the package.json
 * beside it).
 */
export async function runDuels(options: { repoDir: string; buildDir: string; flagsDir: string; selected: readonly string[]; rounds: number; seconds: number }): Promise<DuelResult[]> {
  const results: DuelResult[] = [];
  for (const pair of DUEL_PAIRS.filter((p) => options.selected.includes(p.scenario) && options.selected.includes(p.reference))) {
    const side = (words: string) => `BUILD=${options.buildDir} ${words}`.trim();
    const { code, output } = await run(join(options.repoDir, 'bench', 'duel.sh'), [String(options.rounds), String(options.seconds), side(pair.a), side(pair.b)], {
      cwd: options.repoDir,
      env: { ...process.env, DUEL_FLAGS_DIR: options.flagsDir },
    });
    const ratios = [...output.matchAll(/^round \d+: .* A\/B (\d+\.\d+)/gm)].map((match) => Number(match[1]));
    const errors = output.split('\n').filter((line) => line.includes('ERRORS'));
    const problem = code !== 0 ? `duel.sh exited with ${code}` : errors.length > 0 ? errors.join('; ') : ratios.length === 0 ? 'no round finished' : undefined;
    results.push({ pair, ratios, median: ratios.length > 0 ? median(ratios) : undefined, problem, output });
    console.log(`duel ${pair.scenario} / ${pair.reference}: ${ratios.map((r) => r.toFixed(3)).join(', ')}${problem ? ` (${problem})` : ''}`);
  }
  return results;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [command, ...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
