// The command line: which scenarios, how many rounds, how long. Defaults fit the 12-minute budget.
import type { Generator } from './loadgen.js';

/** default: the comparison on SQLite; postgres: ours on PostgreSQL, 1 and 2 replicas; queue: queue throughput. */
export type Mode = 'default' | 'postgres' | 'queue';
export const MODES: readonly Mode[] = ['default', 'postgres', 'queue'];

export type Settings = {
  mode: Mode;
  /** --loadgen: the load generator asked for; undefined: wrk when installed (see loadgen.ts). */
  loadgen: Generator | undefined;
  only: string[] | undefined;
  rounds: number;
  /** Seconds measured per run, after the warm-up. */
  durationS: number;
  warmupS: number;
  /** Profile our server (node --cpu-prof) into bench/results/profiles/. */
  profile: boolean;
  /** Queue mode: items in the job (10,000 unless --items). */
  items: number;
  /** Queue mode: the QUEUE_CONCURRENCY values (1, 4, 16 unless --concurrency). */
  concurrency: number[];
};

const USAGE = `npm run bench -- [--mode default|postgres|queue] [--only NAME[,NAME...]] [--rounds N] [--duration SECONDS] [--warmup SECONDS] [--profile] [--loadgen wrk|autocannon] [--items N] [--concurrency N[,N...]]` +
  ` (--only queue is --mode queue)`;

/** `scenarioNames`: the scenarios `--only` may name, per mode. */
export function parseArgs(argv: readonly string[], scenarioNames: Readonly<Record<Mode, readonly string[]>>): Settings {
  const settings: Settings = { mode: 'default', loadgen: undefined, only: undefined, rounds: 3, durationS: 10, warmupS: 2, profile: false, items: 10_000, concurrency: [1, 4, 16] };
  let explicitRounds = false;
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = argv[index + 1];
    const number = () => {
      const parsed = Number(value);
      if (value === undefined || !Number.isFinite(parsed) || parsed <= 0) throw new Error(`${flag} needs a positive number. Usage: ${USAGE}`);
      index += 1;
      return parsed;
    };
    switch (flag) {
      case '--only': {
        if (!value) throw new Error(`--only needs a scenario name. Usage: ${USAGE}`);
        index += 1;
        const names = value.split(',').map((name) => name.trim()).filter(Boolean);
        settings.only = [...(settings.only ?? []), ...names];
        break;
      }
      case '--mode': {
        if (!value || !MODES.includes(value as Mode)) throw new Error(`--mode needs one of ${MODES.join(', ')}. Usage: ${USAGE}`);
        index += 1;
        settings.mode = value as Mode;
        break;
      }
      case '--loadgen':
        if (value !== 'wrk' && value !== 'autocannon') throw new Error(`--loadgen needs wrk or autocannon. Usage: ${USAGE}`);
        index += 1;
        settings.loadgen = value;
        break;
      case '--items': {
        const items = Math.round(number());
        if (items > 10_000) throw new Error(`--items: a job holds at most 10000 items`);
        settings.items = items;
        break;
      }
      case '--concurrency':
        if (!value || !/^\d+(,\d+)*$/.test(value)) throw new Error(`--concurrency needs numbers like 1,4,16. Usage: ${USAGE}`);
        index += 1;
        settings.concurrency = value.split(',').map(Number);
        break;
      case '--rounds':
        settings.rounds = Math.round(number());
        explicitRounds = true;
        break;
      case '--duration':
        settings.durationS = number();
        break;
      case '--warmup':
        settings.warmupS = number();
        break;
      case '--profile':
        settings.profile = true;
        break;
      default:
        throw new Error(`Unknown argument ${flag}. Usage: ${USAGE}`);
    }
  }
  // `--only queue` is the queue mode (it is not a load scenario).
  if (settings.only?.length === 1 && settings.only[0] === 'queue' && settings.mode === 'default') settings.mode = 'queue';
  if (settings.mode === 'queue') {
    if (settings.only && settings.only.some((name) => name !== 'queue')) throw new Error(`--mode queue takes no other scenario. Usage: ${USAGE}`);
    settings.only = undefined;
    // One job per configuration unless asked otherwise: a 10,000-item job is long enough to average itself.
    if (!explicitRounds) settings.rounds = 1;
  }
  const known = scenarioNames[settings.mode];
  const unknown = (settings.only ?? []).filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new Error(`Unknown scenario ${unknown.join(', ')} for --mode ${settings.mode}; known: ${known.join(', ')}, or --only queue`);
  return settings;
}
