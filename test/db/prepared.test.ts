// Named prepared statements (db/prepared.ts): a registered statement answers as an ordinary one on both backends, and
// on PostgreSQL it is prepared once per connection under a name of its own text; the upsert is one of them.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { executePrepared, preparedName } from '../../src/db/prepared.js';
import { upsertUserRows, type UpsertInput } from '../../src/users/store/users.js';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';

const user = (id: string, name: string): UpsertInput => ({
  id,
  name,
  image: null,
  role: null,
  teams: null,
  teams_role: null,
  language: null,
  invisible: null,
  privacy_settings: null,
  custom: { n: id.length },
});

describe('named prepared statements', () => {
  let database: TestDatabase;
  /** One connection (PostgreSQL), so that what it prepared can be read back through it. */
  let single: DatabaseHandle;

  beforeAll(async () => {
    database = await createTestDatabase();
    single = usingPostgres ? await openDatabase({ databaseUrl: database.url, poolSize: 1 }) : database;
  }, 30_000);
  afterAll(async () => {
    if (single !== database) await single?.close();
    await database?.drop();
  });

  const square = (n: number) => sql<{ square: number }>`SELECT ${n}::int * ${n}::int AS square`;
  const prepared = () => sql<{ name: string; statement: string }>`SELECT name, statement FROM pg_prepared_statements ORDER BY name`.execute(single.db);

  it('answers with each execution’s own parameters', async () => {
    for (const n of [3, 7, 12]) expect((await executePrepared(single.db, square(n))).rows).toEqual([{ square: n * n }]);
    expect(preparedName(square(1).compile(single.db).sql)).toMatch(/^stream_[0-9a-f]{32}$/);
    expect(preparedName('SELECT 1')).toBeUndefined();
  });

  it.runIf(usingPostgres)('is parsed once per connection, under a name of its text', async () => {
    await executePrepared(single.db, square(4));
    await executePrepared(single.db, square(5));
    const cube = sql<{ cube: number }>`SELECT ${2}::int * ${2}::int * ${2}::int AS cube`;
    expect((await executePrepared(single.db, cube)).rows).toEqual([{ cube: 8 }]);
    // square() ran five times on this connection (with the first test's), cube() once: one statement each.
    const texts = [square(0).compile(single.db).sql, cube.compile(single.db).sql];
    expect((await prepared()).rows).toEqual(
      texts.map((statement) => ({ name: preparedName(statement), statement })).sort((a, b) => a.name!.localeCompare(b.name!)),
    );
  });

  it.runIf(usingPostgres)('prepares the upsert, whose batches then differ only in their parameters', async () => {
    const first = await upsertUserRows(single.db, [user('p-1', 'One')], JSON.stringify([user('p-1', 'One')]));
    const inputs = [user('p-2', 'Two'), user('p-1', 'Uno')];
    const second = await upsertUserRows(single.db, inputs, JSON.stringify(inputs));
    expect(first.map((row) => [row.id, row.name])).toEqual([['p-1', 'One']]);
    expect(second.map((row) => [row.id, row.name]).sort()).toEqual([['p-1', 'Uno'], ['p-2', 'Two']]);
    const upserts = (await prepared()).rows.filter((row) => row.statement.includes('INSERT INTO users'));
    expect(upserts).toHaveLength(1);
    expect(upserts[0]!.name).toBe(preparedName(upserts[0]!.statement));
  });
});
