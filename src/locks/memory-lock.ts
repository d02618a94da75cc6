import { Mutex } from 'async-mutex';
import type { Db } from '../db/database.js';
import { acquireBefore } from './deadline.js';
import type { Locks } from './lock.js';

type Entry = { mutex: Mutex; users: number };
type Release = () => void;

/**
 * In-process locks: one async-mutex Mutex per key, created on first use and dropped when nobody holds
 * or waits for it, so a million distinct counter names do not keep a million mutexes alive.
 * Waiters queue in memory in FIFO order; none of them polls or holds a database connection.
 */
export class MemoryLocks implements Locks {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly db: Db,
    readonly timeoutMs: number,
  ) {}

  withLocks<T>(keys: readonly string[], work: (db: Db) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.withLocksUntil(Date.now() + this.timeoutMs, keys, () => work(this.db), options);
  }

  /** withLocks with an absolute deadline, so that a caller can spend what is left of it on more locks. */
  async withLocksUntil<T>(deadline: number, keys: readonly string[], work: () => Promise<T>, { signal }: { signal?: AbortSignal } = {}): Promise<T> {
    const releases: Release[] = [];
    try {
      for (const key of [...new Set(keys)].sort()) releases.push(await this.#acquire(key, deadline, signal));
      return await work();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  /** Keys with a holder or a waiter; for tests that check nothing is left behind. */
  get size(): number {
    return this.#entries.size;
  }

  async #acquire(key: string, deadline: number, signal: AbortSignal | undefined): Promise<Release> {
    signal?.throwIfAborted();
    let entry = this.#entries.get(key);
    if (!entry) this.#entries.set(key, (entry = { mutex: new Mutex(), users: 0 }));
    entry.users += 1;
    const leave = () => {
      if (--entry.users === 0) this.#entries.delete(key);
    };

    // Uncontended: no timer and no listener to set up.
    if (!entry.mutex.isLocked()) {
      const release = await entry.mutex.acquire();
      return () => (release(), leave());
    }

    try {
      const release = await acquireBefore(entry.mutex.acquire(), (release) => release(), deadline, this.timeoutMs, signal);
      return () => (release(), leave());
    } catch (error) {
      leave();
      throw error;
    }
  }
}
