// A rate-limit counter row locked from another connection for 10 s (what a stuck statement or a black-holed connection
// looks like to the others): requests still answer, counted locally after a short wait for the reservation, which a
// metric shows; once the row is free again, what they spent is added to the shared count.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HOLD_MS = 10_000;

describe.runIf(usingPostgres)('a locked rate-limit counter (PostgreSQL)', () => {
  let server: TestServer;

  beforeAll(async () => {
    // A limit of tens: a reservation per call, so that every call meets the locked row.
    server = await startTestServer({ worker: false, webhooks: false, metrics: {}, rateLimit: { multiplier: 100, overrides: { QueryUsers: 90 } } });
  }, 60_000);
  afterAll(async () => server?.close());

  it('answers requests while the row is locked for 10 s, and adds what they spent to the shared count afterwards', async () => {
    const query = () => server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: {} }) } });
    // All of it in one minute's window: what a window spent locally is added to its own row, and a window that has
    // ended gets no more calls to carry it (its count no longer limits anything).
    const leftInMinute = 60_000 - (Date.now() % 60_000);
    if (leftInMinute < HOLD_MS + 8_000) await new Promise((resolve) => setTimeout(resolve, leftInMinute + 50));
    expect((await query()).status).toBe(200);
    const locker = new pg.Client({ connectionString: server.database.url });
    locker.on('error', () => {}); // dropped with the test database at the end
    await locker.connect();
    const minute = Math.floor(Date.now() / 60_000);
    // This minute's row and the next one's (should the window turn while the test runs), locked.
    await locker.query('BEGIN');
    await locker.query(
      `INSERT INTO rate_limit_counters (bucket, minute, count) VALUES ('server_side:QueryUsers', $1::bigint, 0), ('server_side:QueryUsers', $1::bigint + 1, 0)
       ON CONFLICT DO NOTHING`,
      [minute],
    );
    await locker.query(`SELECT 1 FROM rate_limit_counters WHERE bucket = 'server_side:QueryUsers' AND minute IN ($1::bigint, $1::bigint + 1) FOR UPDATE`, [minute]);
    const lockedAt = Date.now();
    const statuses: number[] = [];
    try {
      // A burst, then calls one after another, for as long as the lock is held.
      statuses.push(...(await Promise.all(Array.from({ length: 20 }, query))).map((answer) => answer.status));
      while (Date.now() - lockedAt < HOLD_MS - 500) statuses.push((await query()).status);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    const metrics = await server.request('GET', '/metrics');
    expect(metrics.text).toMatch(/stream_rate_limit_local_fallbacks_total\{reason="timeout"\} [1-9]/);
    // Free again: what was spent locally is carried into the shared row.
    expect((await query()).status).toBe(200);
    const stored = async () =>
      (await server.database.db.selectFrom('rate_limit_counters').select(['count']).where('bucket', '=', 'server_side:QueryUsers').execute()).reduce(
        (sum, row) => sum + row.count,
        0,
      );
    const expected = Math.min(90, statuses.length + 2);
    const deadline = Date.now() + 10_000;
    while ((await stored()) < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await stored()).toBeGreaterThanOrEqual(expected);
  }, 60_000);
});
