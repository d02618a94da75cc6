import { Mutex } from 'async-mutex';
import { acquireBefore } from './deadline.js';

type Entry = { mutex: Mutex; users: number };
type Release = () => void;

/**
 * Mutual exclusion over named keys within one process: one async-mutex Mutex per key, created on
 * first use and dropped when nobody holds or waits for it, so a million distinct counter names do
 * not keep a million mutexes alive. Waiters queue in memory in FIFO order; none of them polls or
 * holds a database connection. Knows nothing of the database: Locks (transaction-locks.ts) puts a
 * transaction behind it.
 */
export class KeyMutexes {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly timeoutMs: number) {}

  /**
   * Runs `work` while holding the mutex of every key, taken in sorted order so that two callers
   * naming the same keys in another order cannot deadlock. Waits until `deadline` at most (then
   * LOCK_TIMEOUT), or until `signal` aborts (then its reason), having run nothing.
   */
  async withKeys<T>(keys: readonly string[], deadline: number, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
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
