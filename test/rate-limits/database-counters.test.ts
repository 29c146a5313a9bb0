// The database counters several instances share (PostgreSQL; the class is exercised on PGlite too): two counters on
// one database stand for two processes. However the calls are batched, every call learns an exact, distinct count,
// and the stored count is the number of calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseCounters, purgeOldCounters } from '../../src/rate-limits/store.js';
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

  it('fails the calls of a batch the database refuses, and counts again afterwards', async () => {
    const counters = new DatabaseCounters(database.db);
    // A bucket name PostgreSQL cannot store (a NUL byte) fails the statement its batch went in.
    await expect(counters.increment(['bad\u0000bucket'], 300)).rejects.toThrow();
    expect(await counters.increment(['good'], 300)).toEqual([1]);
  });
});
