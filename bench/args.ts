// The command line: which scenarios, how many rounds, how long. Defaults fit the 12-minute budget.

export type Settings = {
  only: string[] | undefined;
  rounds: number;
  /** Seconds measured per run, after the warm-up. */
  durationS: number;
  warmupS: number;
  /** Profile our server (node --cpu-prof) into bench/results/profiles/. */
  profile: boolean;
};

const USAGE = `npm run bench -- [--only NAME[,NAME...]] [--rounds N] [--duration SECONDS] [--warmup SECONDS] [--profile]`;

export function parseArgs(argv: readonly string[], scenarioNames: readonly string[]): Settings {
  const settings: Settings = { only: undefined, rounds: 3, durationS: 10, warmupS: 2, profile: false };
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
        const unknown = names.filter((name) => !scenarioNames.includes(name));
        if (unknown.length > 0) throw new Error(`Unknown scenario ${unknown.join(', ')}; known: ${scenarioNames.join(', ')}`);
        settings.only = [...(settings.only ?? []), ...names];
        break;
      }
      case '--rounds':
        settings.rounds = Math.round(number());
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
  return settings;
}
