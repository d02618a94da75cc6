// One load run: with wrk (wrk-load.ts) when it is installed, pinned to the load-generator core; else
// with autocannon (autocannon-load.ts) in this process, which on one core caps a fast server (bare
// node:http, Mercurius-jit) at about half of what wrk sends, so the fallback is announced.
import { execFileSync } from 'node:child_process';
import { runAutocannon } from './autocannon-load.js';
import { runWrk } from './wrk-load.js';

export type Generator = 'wrk' | 'autocannon';

/** ok: the expected data; business: an error the scenario accepts as an outcome (INSUFFICIENT_FUNDS). */
export type Verdict = 'ok' | 'business' | 'error';

export type LoadOptions = {
  baseUrl: string;
  connections: number;
  warmupS: number;
  measureS: number;
  /** Seconds before a request counts as a timeout. */
  timeoutS: number;
  /** Headers besides JSON_HEADERS (a browser's, for one scenario). */
  headers?: Record<string, string>;
  /** The request body; called again for every request when `varies` is set. */
  body: () => string;
  varies: boolean;
  /** Whether `body` must never repeat (wrk sends bodies made beforehand: it needs enough of them). */
  unique?: boolean;
  /** Whether INSUFFICIENT_FUNDS is an accepted outcome rather than an error (see classifyBody). */
  businessErrors?: boolean;
  /**
   * Send exactly this many requests, then stop once each connection has its last answer: no request
   * is cut off mid-flight, so the server's state can be compared with the responses counted.
   */
  amount?: number;
  /** Called when the measured window opens and when it closes (or the run ends inside it). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
};

export type LoadResult = {
  /** Successful (2xx, non-error) responses per second in the measured window. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses inside the measured window. */
  measured: number;
  /**
   * The slowest first response of a connection. It includes the TCP handshake, which under a burst
   * of new connections can wait for SYN retransmits (1 s, 3 s) when the listen queue overflows; it
   * is left out of p50/p99, which describe requests on established connections.
   */
  firstResponseMaxMs: number;
  /** Over the whole run, warm-up included: */
  ok: number;
  business: number;
  graphqlErrors: number;
  non2xx: number;
  /** Connection errors and timeouts, as the load generator counts them. */
  transportErrors: number;
  timeouts: number;
  /** A few bodies of failed responses, for the report. */
  errorSamples: string[];
  /** The latencies behind p50/p99, ascending: lets two concurrent runs (one per replica) be merged (autocannon only). */
  latenciesMs: number[];
  /** Which program loaded the server; `burst` is burst.ts. */
  generator: Generator | 'burst';
  /** Only for a burst (see burst.ts). */
  burst?: BurstFigures;
};

export type BurstFigures = {
  requests: number;
  /** Answered with the expected data. */
  answered: number;
  /** From the first request sent to the last one sent. */
  sendMs: number;
  /** The most requests sent and not yet answered at one time. */
  peakInFlight: number;
  /** The most answers whose `delayMs` waits overlapped: an estimate of the waits the server held at once. */
  peakConcurrentWaits: number;
  maxMs: number;
};


/** wrk when it is on the PATH, unless `preferred` says otherwise (--loadgen). */
export function chooseGenerator(preferred: Generator | undefined): Generator {
  if (preferred) return preferred;
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return 'wrk';
  } catch (error) {
    // wrk --version prints its version and exits 1; only a missing program is ENOENT.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'autocannon' : 'wrk';
  }
}

/**
 * Connections above which wrk is not used: it opens them all at once and again for the measured run,
 * and past node's listen backlog (511) the dropped SYNs come back 1 s, 3 s later, inside the window.
 * autocannon keeps one set of connections through warm-up and window; at 1,000 slow requests a
 * second it is not what limits the server.
 */
const WRK_MAX_CONNECTIONS = 500;

/** Whether wrk can run this load; see runLoad. */
export const wrkCanRun = (load: Pick<LoadOptions, 'amount' | 'connections'>): boolean =>
  load.amount === undefined && load.connections <= WRK_MAX_CONNECTIONS;

/**
 * Runs the load with `generator`, except where wrk cannot (wrkCanRun): a run of a fixed number of
 * requests (`amount`) stays with autocannon, since wrk cannot stop once every connection has its
 * last answer and a request cut off in flight may still have been applied; and so does a run of
 * more connections than WRK_MAX_CONNECTIONS.
 */
export const runLoad = (generator: Generator, options: LoadOptions): Promise<LoadResult> =>
  generator === 'wrk' && wrkCanRun(options) ? runWrk(options) : runAutocannon(options);

/**
 * ok: the expected data; business: INSUFFICIENT_FUNDS where the scenario accepts it. Cheap string
 * tests, since it runs for every response on the load core; wrk/load.lua does the same in Lua.
 */
export function classifyBody(body: string, businessErrors = false): Verdict {
  if (!body.includes('"errors"')) return body.startsWith('{"data"') ? 'ok' : 'error';
  return businessErrors && body.includes('INSUFFICIENT_FUNDS') ? 'business' : 'error';
}
