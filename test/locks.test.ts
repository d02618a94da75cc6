import { setTimeout } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Locks } from '../src/locks/lock.js';
import { MemoryLocks } from '../src/locks/memory-lock.js';
import { deferred } from './helpers/deferred.js';
import { noLocks } from './helpers/locks.js';

/** How many callers were inside the critical section of one key at the same time, at most. */
async function maxConcurrency(locks: Locks, callers: number): Promise<number> {
  let inside = 0;
  let max = 0;
  await Promise.all(
    Array.from({ length: callers }, () =>
      locks.withLocks(['k'], async () => {
        max = Math.max(max, ++inside);
        await setTimeout(1);
        inside -= 1;
      }),
    ),
  );
  return max;
}

/** A read-modify-write with a wait in the middle, done concurrently: the final value shows lost updates. */
async function racedIncrements(locks: Locks, callers: number): Promise<number> {
  let value = 0;
  await Promise.all(
    Array.from({ length: callers }, () =>
      locks.withLocks(['counter'], async () => {
        const read = value;
        await setTimeout(1);
        value = read + 1;
      }),
    ),
  );
  return value;
}

describe('MemoryLocks', () => {
  it('lets one caller at a time into the critical section of a key', async () => {
    expect(await maxConcurrency(new MemoryLocks(10_000), 50)).toBe(1);
    expect(await racedIncrements(new MemoryLocks(10_000), 100)).toBe(100);
  });

  it('the same suite fails with a no-op lock: the lock is what keeps it green', async () => {
    expect(await maxConcurrency(noLocks, 50)).toBeGreaterThan(1);
    expect(await racedIncrements(noLocks, 100)).toBeLessThan(100);
  });

  it('never deadlocks when callers name the same keys in opposite orders', async () => {
    const locks = new MemoryLocks(2_000);
    const runs = Array.from({ length: 200 }, (_, index) =>
      locks.withLocks(index % 2 ? ['a', 'b'] : ['b', 'a'], () => setTimeout(0)),
    );
    await expect(Promise.all(runs)).resolves.toHaveLength(200);
    expect(locks.size).toBe(0);
  });

  it('lets different keys proceed in parallel', async () => {
    const locks = new MemoryLocks(10_000);
    const bothInside = deferred();
    let inside = 0;
    const enter = () => (++inside === 2 ? bothInside.resolve() : undefined);
    await Promise.all([
      locks.withLocks(['x'], async () => (enter(), await bothInside.promise)),
      locks.withLocks(['y'], async () => (enter(), await bothInside.promise)),
    ]);
  });

  it('gives up with LOCK_TIMEOUT after the timeout, having run nothing', async () => {
    const locks = new MemoryLocks(50);
    const release = deferred();
    const holder = locks.withLocks(['k'], () => release.promise);
    let ran = false;
    await expect(locks.withLocks(['k'], async () => void (ran = true))).rejects.toMatchObject({ extensions: { code: 'LOCK_TIMEOUT' } });
    expect(ran).toBe(false);
    release.resolve();
    await holder;
    // The lock is free again: the waiter that gave up did not keep it.
    await expect(locks.withLocks(['k'], async () => 'ok')).resolves.toBe('ok');
    expect(locks.size).toBe(0);
  });

  it('stops waiting when the signal aborts, having run nothing', async () => {
    const locks = new MemoryLocks(10_000);
    const release = deferred();
    const holder = locks.withLocks(['k'], () => release.promise);
    const client = new AbortController();
    let ran = false;
    const waiter = locks.withLocks(['k'], async () => void (ran = true), { signal: client.signal });
    client.abort(new Error('client left'));
    await expect(waiter).rejects.toThrow('client left');
    release.resolve();
    await holder;
    expect(ran).toBe(false);
    expect(locks.size).toBe(0);
  });

  it('finishes the work once the locks are held, whatever the signal does', async () => {
    const locks = new MemoryLocks(10_000);
    const client = new AbortController();
    const result = locks.withLocks(['k'], async () => {
      client.abort();
      await setTimeout(5);
      return 'done';
    }, { signal: client.signal });
    await expect(result).resolves.toBe('done');
  });

  it('releases the locks when the work throws', async () => {
    const locks = new MemoryLocks(1_000);
    await expect(locks.withLocks(['a', 'b'], async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(locks.withLocks(['b', 'a'], async () => 'free')).resolves.toBe('free');
    expect(locks.size).toBe(0);
  });
});
