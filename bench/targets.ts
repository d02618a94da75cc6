// The three servers under test and how each is started: a fresh process, and for ours a fresh
// database file, for every (scenario, round), so that VmHWM is that run's own peak.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type ServerProcess } from './processes.js';

export type ServerKind = 'ours' | 'bare' | 'plain-yoga';

export const SERVER_LABELS: Record<ServerKind, string> = {
  ours: 'ours',
  bare: 'bare node:http (ceiling)',
  'plain-yoga': 'plain Yoga',
};

/** Our server's settings: the bench runs it with their defaults, whatever the shell exports. */
export const OUR_CONFIG_VARS = [
  'PORT', 'HOST', 'DATABASE_URL', 'DATABASE_POOL_SIZE', 'MAX_BODY_BYTES', 'LOCK_TIMEOUT_MS', 'SHUTDOWN_TIMEOUT_MS',
  'MAX_DEPTH', 'MAX_ALIASES', 'MAX_TOKENS', 'MAX_DIRECTIVES', 'MAX_COST',
  'QUEUE_CONCURRENCY', 'QUEUE_MAX_PENDING', 'QUEUE_ITEM_WORK_MS',
];

const ourEnv = (databaseUrl: string) => ({ env: { DATABASE_URL: databaseUrl }, unsetEnv: OUR_CONFIG_VARS });

export type TargetContext = {
  /** The repository root: the servers run from it so that `--import tsx` resolves. */
  repoDir: string;
  /**
   * Where our server's src/main.ts is run from: the repository, or a snapshot of it (a copy of
   * src/, package.json and tsconfig.json with node_modules linked) when src/ is being edited while
   * the bench runs, so that every run measures the same code.
   */
  oursDir: string;
  /** A temporary folder for database files and server logs. */
  workDir: string;
  /** A database our server created and seeded, copied for plain Yoga (see prepareTemplateDb). */
  templateDb: string;
  /** When set, our server runs with --cpu-prof and writes its profiles under this folder on exit. */
  profileDir?: string;
};

export async function startTarget(
  kind: ServerKind,
  context: TargetContext,
  { tag, delayMs = 0 }: { tag: string; delayMs?: number },
): Promise<ServerProcess> {
  const logFile = join(context.workDir, `${tag}.log`);
  const common = { name: `${SERVER_LABELS[kind]} [${tag}]`, cwd: context.repoDir, logFile };
  switch (kind) {
    case 'ours':
      return startServer({
        ...common,
        cwd: context.oursDir,
        ...ourEnv(`file:${join(context.workDir, `${tag}.sqlite`)}`),
        script: 'src/main.ts',
        // One folder per run, with node's default names: the main thread and tsx's loader thread each
        // write a profile, and one --cpu-prof-name would make them overwrite each other.
        nodeArgs: context.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(context.profileDir, tag)}`] : [],
      });
    case 'bare':
      return startServer({ ...common, script: 'bench/servers/bare.ts', env: { DELAY_MS: String(delayMs) } });
    case 'plain-yoga': {
      const dbFile = join(context.workDir, `${tag}.sqlite`);
      copyDatabase(context.templateDb, dbFile);
      return startServer({ ...common, script: 'bench/servers/plain-yoga.ts', env: { DB_FILE: dbFile } });
    }
  }
}

/**
 * Lets our server create and seed a database, then stops it cleanly (closing SQLite checkpoints
 * the WAL), so that plain Yoga reads the very same schema and rows our migrations make.
 */
export async function prepareTemplateDb(context: Pick<TargetContext, 'oursDir' | 'workDir'>): Promise<string> {
  const templateDb = join(context.workDir, 'template.sqlite');
  const server = await startServer({
    name: 'ours [template database]',
    script: 'src/main.ts',
    cwd: context.oursDir,
    logFile: join(context.workDir, 'template.log'),
    ...ourEnv(`file:${templateDb}`),
  });
  await server.stop(10_000);
  return templateDb;
}


function copyDatabase(from: string, to: string): void {
  copyFileSync(from, to);
  // Only present if the template's last connection did not checkpoint; copied so no row is lost.
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
}

/** Our server with a given database and queue settings (the postgres and queue modes). */
export function startOurs(
  context: Pick<TargetContext, 'oursDir' | 'workDir'>,
  { tag, databaseUrl, queueConcurrency }: { tag: string; databaseUrl: string; queueConcurrency: number },
): Promise<ServerProcess> {
  return startServer({
    name: `ours [${tag}]`,
    script: 'src/main.ts',
    cwd: context.oursDir,
    logFile: join(context.workDir, `${tag}.log`),
    env: { DATABASE_URL: databaseUrl, QUEUE_CONCURRENCY: String(queueConcurrency) },
    unsetEnv: OUR_CONFIG_VARS,
  });
}
