// Waiting for a connection is not failing to connect (PostgreSQL). A query that finds every pooled connection busy
// waits its turn for up to POOL_WAIT_MS, then fails as "busy" (a 503 with Retry-After); opening a connection gives up
// after the much shorter connect timeout, so a database that does not answer still fails requests fast. Before they
// were one timeout (pg-pool's), and a burst of requests on a few rows on a slow machine got 503s after 2 s in the queue.
import net from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { databaseUnavailableError } from '../../src/http/errors.js';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';

const CONNECT_MS = 300;
const POOL_WAIT_MS = 2_500;

describe.runIf(usingPostgres)('waiting for a pooled connection (PostgreSQL)', () => {
  let database: TestDatabase;
  let pool: DatabaseHandle;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = await openDatabase({ databaseUrl: database.url, poolSize: 1, connectTimeoutMs: CONNECT_MS, poolWaitMs: POOL_WAIT_MS });
  }, 30_000);
  afterAll(async () => {
    await pool?.close();
    await database?.drop();
  });

  it('waits longer than the connect timeout for the one connection, then runs', async () => {
    const holding = sql`SELECT pg_sleep(1)`.execute(pool.db);
    const started = Date.now();
    const answer = await sql<{ one: number }>`SELECT 1 AS one`.execute(pool.db);
    expect(answer.rows[0]?.one).toBe(1);
    expect(Date.now() - started).toBeGreaterThan(CONNECT_MS * 2);
    await holding;
  });

  it('fails as busy, with a Retry-After, once it has waited the whole pool wait', async () => {
    const holding = sql`SELECT pg_sleep(4)`.execute(pool.db);
    const started = Date.now();
    const failure = await sql`SELECT 1`.execute(pool.db).then(
      () => undefined,
      (error: unknown) => error,
    );
    const waited = Date.now() - started;
    expect(failure).toBeInstanceOf(Error);
    expect(waited).toBeGreaterThanOrEqual(POOL_WAIT_MS - 50);
    expect(waited).toBeLessThan(POOL_WAIT_MS + 1_000);
    const answer = databaseUnavailableError(failure);
    expect(answer).toMatchObject({ statusCode: 503, message: 'the server is busy, try again', retryAfterSeconds: 1 });
    await holding;
  }, 15_000);

  it('gives up connecting to a database that does not answer after the connect timeout, not the pool wait', async () => {
    // Accepts TCP connections and never says a word: the start-up exchange gets no answer.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const unreachable = await openDatabase({
      databaseUrl: `postgres://postgres@127.0.0.1:${port}/none`,
      connectTimeoutMs: CONNECT_MS,
      poolWaitMs: POOL_WAIT_MS,
    });
    try {
      const started = Date.now();
      const failure = await sql`SELECT 1`.execute(unreachable.db).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(Date.now() - started).toBeLessThan(POOL_WAIT_MS / 2);
      expect(databaseUnavailableError(failure)).toMatchObject({ statusCode: 503, message: 'the database is unavailable, try again' });
    } finally {
      await unreachable.close();
      silent.close();
    }
  });
});
