// The servers under test and how each is started: a fresh process, on a fresh copy of the template
// database, for every (scenario, server, round), so that VmHWM is that run's own peak and every
// server reads the same rows.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { OURS_ENTRY, type Builds } from './build.js';
import { startServer, type ServerProcess, type StartOptions } from './processes.js';
import { startFlags } from './start-flags.js';

export type ServerKind = 'ours' | 'bare' | 'plain-yoga' | 'mercurius-jit';

export const SERVER_LABELS: Record<ServerKind, string> = {
  ours: 'ours',
  bare: 'bare node:http (ceiling)',
  'plain-yoga': 'plain Yoga',
  'mercurius-jit': 'Mercurius + graphql-jit',
};

/**
 * Our server's settings (every variable src/config.ts reads, and CORS_ORIGINS, on its way): the
 * bench runs it with their defaults, whatever the shell exports, except what a scenario sets.
 */
export const OUR_CONFIG_VARS = [
  'PORT', 'HOST', 'DATABASE_URL', 'DATABASE_POOL_SIZE', 'DATABASE_LOCK_CONNECTIONS', 'LOCK_TIMEOUT_MS', 'SHUTDOWN_TIMEOUT_MS',
  'MAX_BODY_BYTES', 'MAX_BODY_BYTES_IN_FLIGHT', 'MAX_RESPONSE_BYTES', 'MAX_QUEUED_RESPONSE_BYTES', 'MAX_CONNECTIONS', 'MAX_PIPELINED_REQUESTS',
  'HEADERS_TIMEOUT_MS', 'REQUEST_TIMEOUT_MS', 'KEEP_ALIVE_TIMEOUT_MS', 'SEND_TIMEOUT_MS', 'HTTP_FAST_PATH',
  'MAX_DEPTH', 'MAX_ALIASES', 'MAX_TOKENS', 'MAX_NESTING', 'MAX_DIRECTIVES', 'MAX_COST', 'MAX_FIELD_MERGES', 'MAX_INTROSPECTION_COST', 'INTROSPECTION',
  'MAX_STRING_LENGTH', 'PARSE_CACHE_MAX_BYTES', 'JIT_AFTER_RUNS', 'JIT_MAX_FIELDS',
  'QUEUE_CONCURRENCY', 'QUEUE_MAX_PENDING', 'QUEUE_ITEM_WORK_MS', 'MAX_SUBSCRIPTIONS', 'SUBSCRIPTION_EVENTS_PER_SECOND',
  'LOG_LEVEL', 'METRICS', 'METRICS_PORT', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME', 'CORS_ORIGINS',
];

export type TargetContext = {
  /** The repository root: the peers run from it (under tsx) and read its schema.graphql. */
  repoDir: string;
  /** A temporary folder for database files and server logs. */
  workDir: string;
  /** Our server compiled for this run, and the window probe every server preloads (see build.ts). */
  builds: Builds;
  /** The database every server gets a copy of (see template-db.ts). */
  templateDb: string;
  /** When set, our server runs with --cpu-prof and writes its profiles under this folder on exit. */
  profileDir?: string;
};

export async function startTarget(
  kind: ServerKind,
  context: TargetContext,
  { tag, delayMs = 0, oursEnv = {} }: { tag: string; delayMs?: number; oursEnv?: Record<string, string> },
): Promise<ServerProcess> {
  const logFile = join(context.workDir, `${tag}.log`);
  const common = { name: `${SERVER_LABELS[kind]} [${tag}]`, cwd: context.repoDir, logFile, probe: context.builds.probe };
  const dbFile = join(context.workDir, `${tag}.sqlite`);
  switch (kind) {
    case 'ours': {
      copyDatabase(context.templateDb, dbFile);
      const options = oursOptions(context.builds, `file:${dbFile}`);
      return startServer({
        ...common,
        ...options,
        env: { ...options.env, ...oursEnv },
        // One folder per run, with node's default file name (it carries the PID and a timestamp).
        nodeArgs: [...(options.nodeArgs ?? []), ...(context.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(context.profileDir, tag)}`] : [])],
      });
    }
    case 'bare':
      return startServer({ ...common, script: 'bench/servers/bare.ts', env: { DELAY_MS: String(delayMs) } });
    case 'plain-yoga':
      copyDatabase(context.templateDb, dbFile);
      return startServer({ ...common, script: 'bench/servers/plain-yoga.ts', env: { DB_FILE: dbFile } });
    case 'mercurius-jit':
      copyDatabase(context.templateDb, dbFile);
      return startServer({ ...common, script: 'bench/servers/mercurius-jit.ts', env: { DB_FILE: dbFile } });
  }
}

/** Our compiled server under plain node with npm start's flags (as `npm start` runs it), with its settings' defaults. */
export const oursOptions = (builds: Builds, databaseUrl: string): Pick<StartOptions, 'script' | 'nodeArgs' | 'cwd' | 'env' | 'unsetEnv'> => ({
  script: OURS_ENTRY,
  nodeArgs: startFlags(builds.oursRunDir),
  cwd: builds.oursRunDir,
  env: { DATABASE_URL: databaseUrl },
  unsetEnv: OUR_CONFIG_VARS,
});


function copyDatabase(from: string, to: string): void {
  copyFileSync(from, to);
  // Only present if the template's last connection did not checkpoint; copied so no row is lost.
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
}

/** Our server with a given database and queue settings (the postgres and queue modes). */
export function startOurs(
  context: Pick<TargetContext, 'builds' | 'workDir'>,
  { tag, databaseUrl, queueConcurrency, core }: { tag: string; databaseUrl: string; queueConcurrency: number; core?: number },
): Promise<ServerProcess> {
  const options = oursOptions(context.builds, databaseUrl);
  return startServer({
    ...options,
    core,
    name: `ours [${tag}]`,
    logFile: join(context.workDir, `${tag}.log`),
    probe: context.builds.probe,
    env: { ...options.env, QUEUE_CONCURRENCY: String(queueConcurrency) },
  });
}
