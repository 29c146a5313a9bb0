// Waiting for a connection is not failing to connect (PostgreSQL). A query that finds every pooled connection busy
// waits its turn for up to POOL_WAIT_MS, then fails as "busy" (a 503 with Retry-After); opening a connection gives up
// after the much shorter connect timeout, so a database that does not answer still fails requests fast. Before they
// were one timeout (pg-pool's), and a burst of requests on a few rows on a slow machine got 503s after 2 s in the queue.
// The server's connection limit is waited out the same way: with several instances on one server, a pool below its
// own size may find the server's connections all taken ("too many clients", 53300).
import net from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { databaseUnavailableError } from '../../src/http/errors.js';
import pg from 'pg';
import { adminQuery, createTestDatabase, testDatabaseName, usingPostgres, type TestDatabase } from '../helpers/database.js';

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

  describe("at the server's connection limit", () => {
    // A role of its own with a CONNECTION LIMIT: PostgreSQL refuses its connections over the limit with 53300, as it
    // refuses anyone's at max_connections (superusers are exempt from the limit, so the test cannot use its own).
    const role = testDatabaseName('role_');
    const adminUrl = process.env.DATABASE_URL!;
    const asRole = () => {
      const url = new URL(database.url!);
      url.username = role;
      url.password = '';
      return url.toString();
    };

    beforeAll(async () => {
      await adminQuery(adminUrl, `CREATE ROLE ${role} LOGIN CONNECTION LIMIT 2`);
    });
    afterAll(async () => {
      await adminQuery(adminUrl, `DROP ROLE IF EXISTS ${role}`);
    });

    it('waits for a connection of its own pool instead of failing, when the server refuses a new one', async () => {
      const limited = await openDatabase({ databaseUrl: asRole(), poolSize: 6, connectTimeoutMs: CONNECT_MS, poolWaitMs: POOL_WAIT_MS });
      try {
        const answers = await Promise.all(
          Array.from({ length: 6 }, (_, i) => sql<{ n: number }>`SELECT ${i}::int AS n, pg_sleep(0.2)`.execute(limited.db)),
        );
        expect(answers.map((answer) => answer.rows[0]?.n)).toEqual([0, 1, 2, 3, 4, 5]);
        // Two connections did all the work: the server's limit held, and the refused ones were not kept.
        expect(limited.poolState?.().total).toBeLessThanOrEqual(2);
      } finally {
        await limited.close();
      }
    });

    it('fails as busy, with a Retry-After, when the limit stays reached for the whole pool wait', async () => {
      const others = await Promise.all(
        [0, 1].map(async () => {
          const client = new pg.Client({ connectionString: asRole() });
          await client.connect();
          return client;
        }),
      );
      const limited = await openDatabase({ databaseUrl: asRole(), connectTimeoutMs: CONNECT_MS, poolWaitMs: 800 });
      try {
        const started = Date.now();
        const failure = await sql`SELECT 1`.execute(limited.db).then(
          () => undefined,
          (error: unknown) => error,
        );
        const waited = Date.now() - started;
        expect((failure as { code?: string }).code).toBe('53300');
        expect(waited).toBeGreaterThanOrEqual(600);
        expect(waited).toBeLessThan(800 + 1_000);
        expect(databaseUnavailableError(failure)).toMatchObject({ statusCode: 503, message: 'the server is busy, try again', retryAfterSeconds: 1 });
      } finally {
        await limited.close();
        await Promise.all(others.map((client) => client.end()));
      }
    });
  });
});
