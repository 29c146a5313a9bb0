// Query plans over a large users table: the lookups Stream apps do all the time (by id, by name prefix, by a custom
// field, the default created_at order) must use an index, never a sequential scan of users. The statement under test
// is the one the query endpoint runs: buildQueryUsersSql from src/users/query.ts.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQueryUsersSql } from '../../src/users/query.js';
import type { QueryUsersPayload } from '../../src/users/schemas.js';
import { usingPostgres } from '../helpers/database.js';
import { startServer, type TestServer } from '../helpers/server.js';

// 100,000 rows on PostgreSQL. The embedded PGlite (single-threaded WASM) builds the GIN indexes much more slowly,
// so it gets fewer rows; the table is still far past the size where the planner prefers a sequential scan.
const ROWS = usingPostgres ? 100_000 : 30_000;
const COLORS = ['red', 'green', 'blue', 'yellow'];

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
  const db = server.database.db;
  await sql`
    INSERT INTO users (id, name, role, custom, created_at, updated_at)
    SELECT 'user-' || i, 'user ' || i, 'user',
           jsonb_build_object('color', (ARRAY[${sql.join(COLORS.map((c) => sql`${c}`))}]::text[])[1 + i % ${COLORS.length}], 'n', i),
           timestamptz '2024-01-01T00:00:00Z' + i * interval '1 second',
           timestamptz '2024-01-01T00:00:00Z' + i * interval '1 second'
    FROM generate_series(1, ${ROWS}) AS i`.execute(db);
  await sql`ANALYZE users`.execute(db);
  await sql`ANALYZE user_blocks`.execute(db);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

async function explain(payload: QueryUsersPayload): Promise<PlanNode> {
  const statement = buildQueryUsersSql(payload);
  const result = await sql<{ 'QUERY PLAN': unknown }>`EXPLAIN (FORMAT JSON) ${statement}`.execute(server.database.db);
  let plan = result.rows[0]!['QUERY PLAN'];
  if (typeof plan === 'string') plan = JSON.parse(plan);
  return (plan as Array<{ Plan: PlanNode }>)[0]!.Plan;
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

function seqScansOnUsers(plan: PlanNode): PlanNode[] {
  return nodes(plan).filter((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'users');
}

function indexesUsed(plan: PlanNode): string[] {
  return nodes(plan).flatMap((node) => (node['Index Name'] ? [node['Index Name']] : []));
}

async function expectNoSeqScan(payload: QueryUsersPayload): Promise<PlanNode> {
  const plan = await explain(payload);
  expect(seqScansOnUsers(plan), JSON.stringify(plan, null, 2)).toEqual([]);
  return plan;
}

describe(`query plans over ${ROWS} users`, () => {
  it('looks a user up by id through the primary key', async () => {
    const payload = { filter_conditions: { id: 'user-4242' } };
    const plan = await expectNoSeqScan(payload);
    expect(indexesUsed(plan)).toContain('users_pkey');
    const response = await server.client.queryUsers({ payload });
    expect(response.users.map((u) => u.id)).toEqual(['user-4242']);
  });

  it('looks users up by a list of ids through the primary key', async () => {
    const plan = await expectNoSeqScan({ filter_conditions: { id: { $in: ['user-1', 'user-2', 'user-3'] } } });
    expect(indexesUsed(plan)).toContain('users_pkey');
  });

  it('autocompletes names through the word index', async () => {
    const payload = { filter_conditions: { name: { $autocomplete: '4242' } } };
    const plan = await expectNoSeqScan(payload);
    expect(indexesUsed(plan)).toContain('users_name_words_idx');
    const response = await server.client.queryUsers({ payload: { ...payload, limit: 100 } });
    const expected = ['user 4242', ...Array.from({ length: 10 }, (_, i) => `user 4242${i}`)].filter(
      (name) => Number(name.slice(5)) <= ROWS,
    );
    expect(response.users.map((u) => u.name).sort()).toEqual(expected.sort());
  });

  it('filters on custom-field equality with a limit without a sequential scan', async () => {
    const payload = { filter_conditions: { color: 'red' }, limit: 10 };
    await expectNoSeqScan(payload);
    const response = await server.client.queryUsers({ payload });
    expect(response.users).toHaveLength(10);
    expect(response.users.every((u) => u.custom.color === 'red')).toBe(true);
  });

  it('finds a rare custom-field value through the GIN index', async () => {
    const plan = await expectNoSeqScan({ filter_conditions: { n: 4242 } });
    expect(indexesUsed(plan)).toContain('users_custom_idx');
  });

  it('walks the created_at index for the default sort', async () => {
    const payload = { filter_conditions: {}, limit: 30 };
    const plan = await expectNoSeqScan(payload);
    expect(indexesUsed(plan)).toContain('users_created_at_id_idx');
    const response = await server.client.queryUsers({ payload });
    expect(response.users).toHaveLength(30);
    expect(response.users[0]!.id).toBe(`user-${ROWS}`);
  });

  it('(control) does report a sequential scan when the query needs one', async () => {
    // Sorting on a custom field has no index: the detector above must see the scan, or it would prove nothing.
    const plan = await explain({ filter_conditions: {}, sort: [{ field: 'n', direction: -1, type: 'number' }] });
    expect(seqScansOnUsers(plan).length).toBeGreaterThan(0);
  });
});
