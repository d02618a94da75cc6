// Compiles src/ for `npm start` into a folder named after what it compiles, dist/<hash>/, and prints
// that folder. Plain JavaScript: it runs before anything is compiled.
//
// Why a folder per content: several `npm start` launched at once from one checkout (replicas, the
// workers of a process manager) used to run tsc into the same dist/ while the others were already
// loading it, and one of them would import a half-written file. Here a build is written to a folder
// of its own and renamed into place in one step (rename(2) is atomic), and a published folder is
// never written again: a process that imports from it sees a whole build, whoever made it. Sources
// unchanged since the last build: same hash, same folder, nothing compiled.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
/** Builds kept besides the one in use: processes started a moment ago may still run from them. */
const KEEP_OLDER = 2;
/** A scratch folder this old belongs to a build that died; a live build takes seconds. */
const ABANDONED_SCRATCH_MS = 60 * 60 * 1000;
const BUILD_NAME = /^[0-9a-f]{16}$/;

/** The folder holding the build of the current sources, compiled now if no process has yet. */
export function buildOnce() {
  const target = join(dist, sourceHash());
  if (existsSync(join(target, 'main.js'))) return target;
  mkdirSync(dist, { recursive: true });
  const scratch = join(dist, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    console.error(`Compiling src/ into ${relative(root, target)}/ (a few seconds, once per change of the sources)`);
    compile(scratch);
    try {
      renameSync(scratch, target);
    } catch (error) {
      // Another process published the same sources' build first: theirs is as good as ours.
      if (!['ENOTEMPTY', 'EEXIST'].includes(/** @type {NodeJS.ErrnoException} */ (error).code ?? '')) throw error;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  prune(target);
  return target;
}

/** What the output depends on: every source file (path and content), the compiler settings and version, this script. */
function sourceHash() {
  const hash = createHash('sha256');
  const inputs = [...listFiles(join(root, 'src')), join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'), fileURLToPath(import.meta.url)];
  for (const file of inputs) hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  hash.update(JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')).version);
  return hash.digest('hex').slice(0, 16);
}

/** @returns {string[]} every file below `dir`, sorted, so that the hash does not depend on directory order */
function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** tsc -p tsconfig.build.json into `outDir`; type errors stop the start, as `tsc && node` did. */
function compile(outDir) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = /** @type {{ stdout?: Buffer; stderr?: Buffer }} */ (error);
    const output = `${stdout ?? ''}${stderr ?? ''}`.trim();
    throw new BuildError(`src/ does not compile:\n${output || /** @type {Error} */ (error).message}`);
  }
}

/**
 * Removes all but the newest builds, and scratch folders of builds that died. Other processes
 * (several `npm start` at once after a change) publish and prune the same folder meanwhile: an
 * entry that is gone by the time it is looked at is theirs to have removed, not an error.
 */
function prune(current) {
  const entries = readdirSync(dist, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  const builds = entries
    .filter((entry) => BUILD_NAME.test(entry.name) && join(dist, entry.name) !== current)
    .map((entry) => ({ path: join(dist, entry.name), mtime: modifiedAt(join(dist, entry.name)) }))
    .filter((build) => build.mtime !== undefined)
    .sort((a, b) => b.mtime - a.mtime);
  for (const { path } of builds.slice(KEEP_OLDER)) rmSync(path, { recursive: true, force: true });
  for (const entry of entries.filter((entry) => entry.name.startsWith('.build-'))) {
    const path = join(dist, entry.name);
    const mtime = modifiedAt(path);
    if (mtime !== undefined && Date.now() - mtime > ABANDONED_SCRATCH_MS) rmSync(path, { recursive: true, force: true });
  }
}

/** @returns {number | undefined} the entry's modification time, or undefined when it no longer exists */
function modifiedAt(path) {
  try {
    return statSync(path).mtimeMs;
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ENOENT') return undefined;
    throw error;
  }
}

export class BuildError extends Error {}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(buildOnce());
  } catch (error) {
    console.error(error instanceof BuildError ? error.message : error);
    process.exit(1);
  }
}
