// The settings every pooled PostgreSQL connection of the server starts with (src/db/database.ts): UTC, the
// statement_timeout, and no parallel query, which a page-sized statement pays for in worker start-up.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';

describe.runIf(usingPostgres)('a pooled connection’s session settings', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    await sql`CREATE TABLE parallel_probe AS SELECT n FROM generate_series(1, 20000) AS n`.execute(database.db);
    await sql`ANALYZE parallel_probe`.execute(database.db);
  }, 30_000);
  afterAll(async () => {
    await database?.drop();
  });

  /** The plan of a count over the probe table with parallel plans made free, and the workers per Gather given. */
  const planWith = (workers: number | undefined) =>
    database.db.transaction().execute(async (trx) => {
      // Free parallelism, so that only max_parallel_workers_per_gather keeps the planner from it.
      for (const setting of ['parallel_setup_cost', 'parallel_tuple_cost', 'min_parallel_table_scan_size']) {
        await sql`SELECT set_config(${setting}, '0', true)`.execute(trx);
      }
      if (workers !== undefined) await sql`SELECT set_config('max_parallel_workers_per_gather', ${String(workers)}, true)`.execute(trx);
      const result = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT count(*) FROM parallel_probe`.execute(trx);
      return result.rows.map((row) => row['QUERY PLAN']).join('\n');
    });

  it('plans no parallel workers, where the same statement with workers allowed gets a Gather', async () => {
    expect(await planWith(2)).toMatch(/Gather/);
    expect(await planWith(undefined)).not.toMatch(/Gather|Parallel/);
  });

  it('reads and writes times in UTC, under the statement_timeout', async () => {
    const settings = await sql<{ zone: string; timeout: string }>`
      SELECT current_setting('TimeZone') AS zone, current_setting('statement_timeout') AS timeout`.execute(database.db);
    expect(settings.rows).toEqual([{ zone: 'UTC', timeout: '5s' }]);
  });
});
