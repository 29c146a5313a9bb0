// The database counters several instances share (PostgreSQL; the class is exercised on PGlite too): two counters on
// one database stand for two processes. Without limits, however the calls are batched, every call learns an exact,
// distinct count, and the stored count is the number of calls. With limits, budget is reserved in blocks, and a limit
// holds exactly across instances.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockSize, DatabaseCounters, purgeOldCounters } from '../../src/rate-limits/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

describe('DatabaseCounters', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('gives 1,000 concurrent calls from two counters the counts 1 to 1,000, each once', async () => {
    const a = new DatabaseCounters(database.db);
    const b = new DatabaseCounters(database.db);
    const calls = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? a : b).increment(['app:QueryUsers', `user:u${i % 7}:QueryUsers`], 100));
    const results = await Promise.all(calls);
    expect(results.map(([app]) => app).sort((x, y) => x! - y!)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // Each user's own bucket counts its own calls the same way.
    for (let u = 0; u < 7; u++) {
      const counts = results.filter((_, i) => i % 7 === u).map(([, user]) => user!);
      expect(counts.sort((x, y) => x - y)).toEqual(Array.from({ length: counts.length }, (_, i) => i + 1));
    }
    expect(await a.read(['app:QueryUsers', 'user:u0:QueryUsers', 'never'], 100)).toEqual([1000, 143, 0]);
    // Another window starts from zero.
    expect(await b.increment(['app:QueryUsers'], 101)).toEqual([1]);
  });

  it('keeps calls of different windows apart within one batch, and purges windows that are over', async () => {
    const counters = new DatabaseCounters(database.db);
    const results = await Promise.all([200, 201, 200, 201, 202].map((minute) => counters.increment(['mixed'], minute)));
    expect(results).toEqual([[1], [1], [2], [2], [1]]);
    expect(await purgeOldCounters(database.db, 202)).toBeGreaterThan(0);
    expect(await counters.read(['mixed'], 200)).toEqual([0]);
    expect(await counters.read(['mixed'], 201)).toEqual([2]);
  });

  it('counts the calls of a reservation the database refuses locally, and counts in the database again afterwards', async () => {
    const counters = new DatabaseCounters(database.db);
    const fallbacks: string[] = [];
    counters.onFallback(({ reason }) => fallbacks.push(reason));
    // A bucket name PostgreSQL cannot store (a NUL byte) fails the statement its reservation went in.
    expect(await counters.increment(['bad\u0000bucket'], 300, [10])).toEqual([1]);
    expect(fallbacks).toEqual(['error']);
    expect(await counters.increment(['good'], 300, [10])).toEqual([1]);
    expect(await counters.read(['good'], 300)).toEqual([1]);
  });

  it('holds a limit exactly across three instances: a burst over all of them gets the limit, never more', async () => {
    const instances = [new DatabaseCounters(database.db), new DatabaseCounters(database.db), new DatabaseCounters(database.db)];
    const limit = 1_000; // blocks of 10
    const counts = await Promise.all(Array.from({ length: 1_500 }, (_, i) => instances[i % 3]!.increment(['burst'], 400, [limit])));
    const allowed = counts.filter(([count]) => count! <= limit).length;
    expect(allowed).toBe(limit);
    // The shared row holds what was reserved, never past the limit.
    expect(await instances[0]!.read(['burst'], 400)).toEqual([expect.any(Number)]);
    const stored = await database.db.selectFrom('rate_limit_counters').select('count').where('bucket', '=', 'burst').where('minute', '=', 400).executeTakeFirstOrThrow();
    expect(stored.count).toBe(limit);
  });

  it('reserves a large limit in blocks: most calls do not reach the database', async () => {
    const counters = new DatabaseCounters(database.db);
    const limit = 30_000; // Stream's UpdateUsers limit times the default multiplier: blocks of 300
    expect(blockSize(limit)).toBe(300);
    expect(blockSize(60)).toBe(1);
    for (let i = 0; i < 1_000; i++) await counters.increment(['blocks'], 500, [limit]);
    const stored = await database.db.selectFrom('rate_limit_counters').select(['count']).where('bucket', '=', 'blocks').where('minute', '=', 500).executeTakeFirstOrThrow();
    // 1,000 calls took a handful of blocks (with one reserved ahead), not 1,000 units one at a time.
    expect(stored.count % 300).toBe(0);
    expect(stored.count).toBeGreaterThanOrEqual(1_200);
    expect(stored.count).toBeLessThanOrEqual(1_500);
    // What this instance has not spent is not reported as used.
    expect(await counters.read(['blocks'], 500)).toEqual([1_000]);
  });
});
