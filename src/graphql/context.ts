import type { YogaInitialContext } from 'graphql-yoga';
import type { Bank } from '../bank/bank.js';
import type { Db } from '../db/database.js';
import type { JobWatchers } from '../queue/job-watchers.js';
import { createLoaders, type Loaders } from './loaders.js';

/** The long-lived parts, made once by createApp. */
export type Deps = {
  /** For reads; every change of shared state goes through the bank. */
  db: Db;
  bank: Bank;
  /** The jobProgress streams, one reader per watched job; the app closes them when it shuts down. */
  jobWatchers: JobWatchers;
};

/** What every resolver sees: the deps plus this request's own loaders. */
export type AppContext = Deps & { loaders: Loaders };

/** Yoga merges our context into its own, so `ctx.request.signal` is there and typed. */
export type Context = YogaInitialContext & AppContext;

/**
 * Spelled out rather than `{ ...deps, loaders }`: V8 copies a spread followed by another property on
 * its slow path, 1.5 µs per request against 0.03 µs for this literal (docs/performance.md).
 */
export const createContext = ({ db, bank, jobWatchers }: Deps): AppContext => ({ db, bank, jobWatchers, loaders: createLoaders(db) });
