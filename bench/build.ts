// Compiles, once per bench run, what the servers run under plain node: our server, as `npm run build`
// does (the way `npm start` runs it), and the window probe preloaded into every server.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export type Builds = {
  /** Where our server runs from: dist/main.js, with package.json and node_modules beside it. */
  oursRunDir: string;
  /** The window probe as an ES module, for `node --import`. */
  probe: string;
};

export const OURS_ENTRY = 'dist/main.js';

export function buildServers({ oursDir, benchDir, workDir }: { oursDir: string; benchDir: string; workDir: string }): Builds {
  return { oursRunDir: buildOurs(oursDir, join(workDir, 'ours')), probe: buildProbe(benchDir, workDir) };
}

/**
 * tsc -p tsconfig.build.json, written to a folder of this run rather than to the repository's
 * dist/: an `npm start` or `npm run build` during the run then cannot change the code measured.
 * node finds the packages through the node_modules link, and "type": "module" in package.json.
 */
function buildOurs(oursDir: string, runDir: string): string {
  mkdirSync(runDir, { recursive: true });
  const tsc = join(oursDir, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(runDir, 'dist')], { cwd: oursDir, stdio: 'pipe' });
  } catch (error) {
    // As `npm start` would, refuse to measure a build with type errors.
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`npm run build failed in ${oursDir}:\n${output.trim() || (error as Error).message}`);
  }
  copyFileSync(join(oursDir, 'package.json'), join(runDir, 'package.json'));
  symlinkSync(join(oursDir, 'node_modules'), join(runDir, 'node_modules'), 'dir');
  return runDir;
}

/** The probe imports only node's own modules, so a type-stripping transpile is all it needs. */
function buildProbe(benchDir: string, workDir: string): string {
  const source = readFileSync(join(benchDir, 'servers', 'window-probe.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  const probe = join(workDir, 'window-probe.mjs');
  writeFileSync(probe, outputText);
  return probe;
}
