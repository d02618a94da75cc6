import { sql } from 'kysely';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../src/db/connect.js';
import type { Db } from '../src/db/database.js';
import { KeyMutexes } from '../src/locks/key-mutexes.js';
import type { Locks } from '../src/locks/lock.js';
import { advisoryLockIds, takeAdvisoryLocks } from '../src/locks/postgres-advisory-locks.js';
import { TransactionLocks } from '../src/locks/transaction-locks.js';
import { postgres, sqlite, type CreatedDatabase, type TestDatabase } from './helpers/databases.js';
import { deferred } from '../src/deferred.js';
import { noLocks } from './helpers/locks.js';

const postgresLocks = (db: Db, timeoutMs: number, connections = 8) => new TransactionLocks(db, { timeoutMs, connections, lockAcrossProcesses: takeAdvisoryLocks(timeoutMs) });

/**
 * One suite for both modes of the locks. Each mode gives two lock instances; for PostgreSQL they
 * sit on two separate connection pools, as two replicas would, so the suite checks that the
 * advisory locks exclude across processes and not only the in-process mutex in front of them.
 * SQLite has one writer: its lock holders run their transactions one at a time.
 */
type Mode = { name: string; database: TestDatabase; create(db: [Db, Db], timeoutMs: number): [Locks, Locks]; oneWriter: boolean };

const modes: Mode[] = [
  { name: 'SQLite', database: sqlite, oneWriter: true, create: ([db], timeoutMs) => { const locks = new TransactionLocks(db, { timeoutMs, connections: 1 }); return [locks, locks]; } },
  ...(postgres ? [{ name: 'PostgreSQL', database: postgres, oneWriter: false, create: ([a, b]: [Db, Db], timeoutMs: number): [Locks, Locks] => [postgresLocks(a, timeoutMs), postgresLocks(b, timeoutMs)] }] : []),
];

/** How many callers were inside the critical section of one key at the same time, at most. */
async function maxConcurrency(locks: [Locks, Locks], callers: number): Promise<number> {
  let inside = 0;
  let max = 0;
  await Promise.all(
    Array.from({ length: callers }, (_, index) =>
      locks[index % 2]!.withLocks(['k'], async () => {
        max = Math.max(max, ++inside);
        await setTimeout(1);
        inside -= 1;
      }),
    ),
  );
  return max;
}

/** A read-modify-write with a wait in the middle, done concurrently: the final value shows lost updates. */
async function racedIncrements(locks: [Locks, Locks], callers: number): Promise<number> {
  let value = 0;
  await Promise.all(
    Array.from({ length: callers }, (_, index) =>
      locks[index % 2]!.withLocks(['counter'], async () => {
        const read = value;
        await setTimeout(1);
        value = read + 1;
      }),
    ),
  );
  return value;
}

describe.each(modes)('$name', (mode) => {
  let created: CreatedDatabase;
  let dbs: [Db, Db];
  const make = (timeoutMs: number) => mode.create(dbs, timeoutMs);
  beforeAll(async () => {
    created = await mode.database.create();
    dbs = [createDb(created.config), createDb(created.config)];
  });
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.destroy()));
    await created.drop();
  });

  it('lets one caller at a time into the critical section of a key', async () => {
    expect(await maxConcurrency(make(10_000), 50)).toBe(1);
    expect(await racedIncrements(make(10_000), 100)).toBe(100);
  });

  it('the same suite fails with a no-op lock: the lock is what keeps it green', async () => {
    const none = noLocks(make(10_000)[0], dbs[0]);
    expect(await maxConcurrency([none, none], 50)).toBeGreaterThan(1);
    expect(await racedIncrements([none, none], 100)).toBeLessThan(100);
  });

  it('never deadlocks when callers name the same keys in opposite orders', async () => {
    const locks = make(5_000);
    const runs = Array.from({ length: 100 }, (_, index) =>
      locks[index % 2]!.withLocks(index % 4 < 2 ? ['a', 'b'] : ['b', 'a'], () => setTimeout(0)),
    );
    await expect(Promise.all(runs)).resolves.toHaveLength(100);
  });

  it.skipIf(mode.oneWriter)('lets different keys proceed in parallel', async () => {
    const [first, second] = make(10_000);
    const bothInside = deferred();
    let inside = 0;
    const enter = () => (++inside === 2 ? bothInside.resolve() : undefined);
    await Promise.all([
      first.withLocks(['x'], async () => (enter(), await bothInside.promise)),
      second.withLocks(['y'], async () => (enter(), await bothInside.promise)),
    ]);
  });

  it.each([0, 1])('gives up with LOCK_TIMEOUT after the timeout, having run nothing (waiter on instance %i)', async (waiterIndex) => {
    const locks = make(200);
    const release = deferred();
    const holding = deferred();
    const holder = locks[0].withLocks(['t'], () => (holding.resolve(), release.promise));
    await holding.promise;
    let ran = false;
    await expect(locks[waiterIndex]!.withLocks(['t'], async () => void (ran = true))).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
    expect(ran).toBe(false);
    release.resolve();
    await holder;
    // The lock is free again: the waiter that gave up did not keep it.
    await expect(locks[waiterIndex]!.withLocks(['t'], async () => 'ok')).resolves.toBe('ok');
  });

  it.each([0, 1])('runs nothing for a caller whose signal aborts while it waits (waiter on instance %i)', async (waiterIndex) => {
    const locks = make(10_000);
    const release = deferred();
    const holding = deferred();
    const holder = locks[0].withLocks(['s'], () => (holding.resolve(), release.promise));
    await holding.promise;
    const client = new AbortController();
    let ran = false;
    const waiter = locks[waiterIndex]!.withLocks(['s'], async () => void (ran = true), { signal: client.signal });
    client.abort(new Error('client left'));
    release.resolve();
    await expect(waiter).rejects.toThrow('client left');
    await holder;
    expect(ran).toBe(false);
  });

  it('finishes the work once the locks are held, whatever the signal does', async () => {
    const client = new AbortController();
    const result = make(10_000)[0].withLocks(['f'], async () => {
      client.abort();
      await setTimeout(5);
      return 'done';
    }, { signal: client.signal });
    await expect(result).resolves.toBe('done');
  });

  it('releases the locks when the work throws', async () => {
    const [first, second] = make(1_000);
    await expect(first.withLocks(['a', 'b'], async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(second.withLocks(['b', 'a'], async () => 'free')).resolves.toBe('free');
  });
});

describe('KeyMutexes', () => {
  const withKeys = <T>(mutexes: KeyMutexes, keys: string[], work: () => Promise<T>, timeoutMs = 10_000) => mutexes.withKeys(keys, Date.now() + timeoutMs, undefined, work);

  it('lets different keys proceed in parallel', async () => {
    const mutexes = new KeyMutexes(10_000);
    const bothInside = deferred();
    let inside = 0;
    const enter = () => (++inside === 2 ? bothInside.resolve() : undefined);
    await Promise.all([withKeys(mutexes, ['x'], async () => (enter(), await bothInside.promise)), withKeys(mutexes, ['y'], async () => (enter(), await bothInside.promise))]);
  });

  it('keeps no mutex for a key nobody holds or waits for', async () => {
    const mutexes = new KeyMutexes(50);
    const release = deferred();
    const holder = withKeys(mutexes, ['k'], () => release.promise);
    await expect(withKeys(mutexes, ['k'], async () => undefined, 50)).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
    release.resolve();
    await holder;
    expect(mutexes.size).toBe(0);
    await Promise.all(Array.from({ length: 100 }, (_, i) => withKeys(mutexes, [`n${i}`, 'shared'], () => setTimeout(0))));
    expect(mutexes.size).toBe(0);
  });
});

describe('advisory lock ids', () => {
  it('are stable, deduplicated and in one global order', () => {
    expect(advisoryLockIds(['account:2', 'account:1', 'account:2'])).toEqual(advisoryLockIds(['account:1', 'account:2']));
    expect(advisoryLockIds(['a', 'b'])).toEqual(advisoryLockIds(['b', 'a']));
    expect(advisoryLockIds(['x'])).toHaveLength(1);
  });

  it('are the same read from the cache as hashed', () => {
    const cache = new Map<string, bigint>();
    const keys = Array.from({ length: 100 }, (_, i) => `account:${i}`);
    expect(advisoryLockIds(keys, cache)).toEqual(advisoryLockIds(keys));
    expect(cache.size).toBe(100);
    expect(advisoryLockIds(keys, cache)).toEqual(advisoryLockIds(keys));
  });
});


describe.skipIf(!postgres)('connection slots on PostgreSQL', () => {
  let created: CreatedDatabase;
  let db: Db;
  beforeAll(async () => {
    created = await postgres!.create();
    db = createDb(created.config);
  });
  afterAll(async () => {
    await db?.destroy();
    await created?.drop();
  });

  /** One caller holding key `x` (and so the one connection slot) until `release` resolves. */
  async function holdTheSlot(locks: TransactionLocks) {
    const release = deferred();
    const holding = deferred();
    const holder = locks.withLocks(['x'], () => (holding.resolve(), release.promise));
    await holding.promise;
    return { release: () => release.resolve(), holder };
  }

  it('never lets holders of distinct keys take more connections than their slots', async () => {
    const locks = postgresLocks(db, 10_000, 3);
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        locks.withLocks([`k${index}`], async () => {
          most = Math.max(most, ++inside, locks.inUse.connections);
          await setTimeout(20);
          inside -= 1;
        }),
      ),
    );
    expect(most).toBe(3);
    expect(locks.inUse.connections).toBe(0);
  });

  it('gives up with LOCK_TIMEOUT, having run nothing, when no slot frees up before the deadline', async () => {
    const locks = postgresLocks(db, 300, 1);
    const { release, holder } = await holdTheSlot(locks);
    let ran = false;
    await expect(locks.withLocks(['y'], async () => void (ran = true))).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
    expect(ran).toBe(false);
    release();
    await holder;
    // The slot the waiter gave up on passed on: the next caller gets it.
    await expect(locks.withLocks(['y'], async () => 'ok')).resolves.toBe('ok');
    expect(locks.inUse.connections).toBe(0);
  });

  it('bounds only the wait for the advisory locks: the work runs without lock_timeout, and holds every lock', async () => {
    const locks = postgresLocks(db, 300, 1);
    const keys = Array.from({ length: 90 }, (_, i) => `account:${i}`);
    const seen = await locks.withLocks(keys, async (trx) => {
      const { rows: [timeout] } = await sql<{ lock_timeout: string }>`SHOW lock_timeout`.execute(trx);
      const { rows: [held] } = await sql<{ count: string }>`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`.execute(trx);
      return { timeout: timeout?.lock_timeout, held: Number(held?.count) };
    });
    expect(seen).toEqual({ timeout: '0', held: 90 });
  });

  it('runs nothing for a caller whose signal aborts while it waits for a slot', async () => {
    const locks = postgresLocks(db, 10_000, 1);
    const { release, holder } = await holdTheSlot(locks);
    const client = new AbortController();
    let ran = false;
    const waiter = locks.withLocks(['z'], async () => void (ran = true), { signal: client.signal });
    client.abort(new Error('client left'));
    await expect(waiter).rejects.toThrow('client left');
    release();
    await holder;
    expect(ran).toBe(false);
    expect(locks.inUse.connections).toBe(0);
  });
});
