import type { YogaInitialContext } from 'graphql-yoga';
import type { Db } from './db/database.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { Locks } from './locks/lock.js';

/** The long-lived parts, made once by createApp. */
export type Deps = { db: Db; locks: Locks };

/** What every resolver sees: the deps plus this request's own loaders. */
export type AppContext = Deps & { loaders: Loaders };

/** Yoga merges our context into its own, so `ctx.request.signal` is there and typed. */
export type Context = YogaInitialContext & AppContext;

export const createContext = (deps: Deps): AppContext => ({ ...deps, loaders: createLoaders(deps.db) });
