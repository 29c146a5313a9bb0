// Query plans over a large users table: the lookups Stream apps do all the time (by id, by name prefix, by a custom
// field, the default created_at order) must use an index, never a sequential scan of users. The statement under test
// is the one the query endpoint runs: buildQueryUsersSql from src/users/query.ts.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { buildQueryUsersSql, chooseAutocompletePlan, type AutocompletePlan } from '../../src/users/store/query.js';
import { forgetNameWordStats, nameWordStats } from '../../src/users/store/word-stats.js';
import type { QueryUsersPayload } from '../../src/users/schemas.js';
import { seedWithoutTimeout } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// 100,000 rows on both backends: PGlite (single-threaded WASM) loads them in a few seconds.
const ROWS = 100_000;
const COLORS = ['red', 'green', 'blue', 'yellow'];

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const db = server.database.db;
  await seedWithoutTimeout(db, sql`
    INSERT INTO users (id, name, role, custom, created_at, updated_at)
    SELECT 'user-' || i, 'user ' || i, 'user',
           jsonb_build_object('color', (ARRAY[${sql.join(COLORS.map((c) => sql`${c}`))}]::text[])[1 + i % ${COLORS.length}], 'n', i),
           timestamptz '2024-01-01T00:00:00Z' + i * interval '1 second',
           timestamptz '2024-01-01T00:00:00Z' + i * interval '1 second'
    FROM generate_series(1, ${ROWS}) AS i`);
  await sql`ANALYZE users`.execute(db);
  await sql`ANALYZE user_blocks`.execute(db);
  await sql`ANALYZE user_name_words`.execute(db);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** EXPLAIN of the exact statement the query endpoint runs for this payload (with ANALYZE: also run it). */
async function explain(payload: QueryUsersPayload, options: { analyze?: boolean; plan?: AutocompletePlan } = {}): Promise<PlanNode> {
  const statement = buildQueryUsersSql(payload, {}, DEFAULT_LIMITS, options.plan);
  const explainOptions = sql.raw(options.analyze ? '(ANALYZE, FORMAT JSON)' : '(FORMAT JSON)');
  const result = await sql<{ 'QUERY PLAN': unknown }>`EXPLAIN ${explainOptions} ${statement}`.execute(server.database.db);
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

/**
 * Rows of `users` the executor actually read: what each scan of the table returned plus what its filters threw
 * away. An index scan that walks the whole table and filters (a sequential scan in disguise) reads them all.
 */
function usersRowsRead(plan: PlanNode): number {
  return nodes(plan)
    .filter((node) => node['Relation Name'] === 'users')
    .reduce(
      (sum, node) =>
        sum +
        ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) *
          (node['Actual Loops'] ?? 1),
      0,
    );
}

/** The plan has no sequential scan of users, and running it reads under 1% of the table. */
async function expectIndexedPlan(payload: QueryUsersPayload, autocompletePlan?: AutocompletePlan): Promise<PlanNode> {
  const plan = await explain(payload, { plan: autocompletePlan });
  expect(seqScansOnUsers(plan), JSON.stringify(plan, null, 2)).toEqual([]);
  const analyzed = await explain(payload, { analyze: true, plan: autocompletePlan });
  expect(seqScansOnUsers(analyzed), JSON.stringify(analyzed, null, 2)).toEqual([]);
  expect(usersRowsRead(analyzed), JSON.stringify(analyzed, null, 2)).toBeLessThan(ROWS / 100);
  return plan;
}

const NAME_MATCHES_4242 = ['user 4242', ...Array.from({ length: 10 }, (_, i) => `user 4242${i}`)].sort();

describe(`query plans over ${ROWS} users`, () => {
  it('looks a user up by id through the primary key', async () => {
    const payload = { filter_conditions: { id: 'user-4242' } };
    const plan = await expectIndexedPlan(payload);
    expect(indexesUsed(plan)).toContain('users_pkey');
    const response = await server.client.queryUsers({ payload });
    expect(response.users.map((u) => u.id)).toEqual(['user-4242']);
  });

  it('looks users up by a list of ids through the primary key', async () => {
    const plan = await expectIndexedPlan({ filter_conditions: { id: { $in: ['user-1', 'user-2', 'user-3'] } } });
    expect(indexesUsed(plan)).toContain('users_pkey');
  });

  it('autocompletes an id prefix, without regard to case, through the lower(id) index', async () => {
    const payload = { filter_conditions: { id: { $autocomplete: 'USER-4242' } } };
    const plan = await expectIndexedPlan(payload);
    expect(indexesUsed(plan)).toContain('users_id_lower_idx');
    const response = await server.client.queryUsers({ payload: { ...payload, limit: 100 } });
    expect(response.users.map((u) => u.id).sort()).toEqual(NAME_MATCHES_4242.map((name) => name.replace('user ', 'user-')));
  });

  it('autocompletes a name prefix of two words through the word index', async () => {
    const payload = { filter_conditions: { name: { $autocomplete: 'user 4242' } } };
    const plan = await expectIndexedPlan(payload);
    expect(indexesUsed(plan)).toContain('users_name_words_idx');
    const response = await server.client.queryUsers({ payload: { ...payload, limit: 100 } });
    expect(response.users.map((u) => u.name).sort()).toEqual(NAME_MATCHES_4242);
  });

  it('autocompletes a single-word name prefix without a sequential scan', async () => {
    const payload = { filter_conditions: { name: { $autocomplete: '4242' } } };
    const plan = await explain(payload);
    expect(seqScansOnUsers(plan), JSON.stringify(plan, null, 2)).toEqual([]);
    const response = await server.client.queryUsers({ payload: { ...payload, limit: 100 } });
    expect(response.users.map((u) => u.name).sort()).toEqual(NAME_MATCHES_4242);
  });

  // PostgreSQL cannot estimate a prefix tsquery on a word that is not among the most common ones (it assumes ~2% of
  // rows match), so with the default created_at order and a LIMIT it would walk users_created_at_id_idx backwards
  // and filter every row, reading the whole table without a "Seq Scan" node; the query fences the match instead.
  it('autocompletes a single-word name prefix reading only the matching rows', async () => {
    const plan = await expectIndexedPlan({ filter_conditions: { name: { $autocomplete: '4242' } } });
    expect(indexesUsed(plan)).toContain('users_name_words_idx');
  });

  // A common prefix (here every name holds "user") matches so many users that collecting and sorting them all costs
  // far more than walking the default order until a page of matches is found. The word statistics ANALYZE keeps on
  // users_name_words_idx tell the two apart; both plans give the same page.
  it('autocompletes a common name prefix by walking the created_at index, a rarer one through the word list', async () => {
    const db = server.database.db;
    forgetNameWordStats(db);
    const stats = await nameWordStats(db);
    expect(stats.words.get('user')).toBeCloseTo(1, 2);
    const common: QueryUsersPayload = { filter_conditions: { name: { $autocomplete: 'USE' } }, offset: 60 };
    expect(await chooseAutocompletePlan(db, common, {}, DEFAULT_LIMITS)).toBe('ordered-walk');
    const plan = await expectIndexedPlan(common, 'ordered-walk');
    expect(indexesUsed(plan)).toContain('users_created_at_id_idx');
    expect(indexesUsed(plan)).not.toContain('users_name_words_idx');
    const rare: QueryUsersPayload = { filter_conditions: { name: { $autocomplete: 'user 4242' } } };
    expect(await chooseAutocompletePlan(db, rare, {}, DEFAULT_LIMITS)).toBe('word-list');
    expect(await chooseAutocompletePlan(db, { filter_conditions: { name: { $autocomplete: '4242' } } }, {}, DEFAULT_LIMITS)).toBe('word-list');
    // A page the planner would rather scan the table for (930 / 2% of 100,000 users): the word list.
    expect(await chooseAutocompletePlan(db, { ...common, offset: 900 }, {}, DEFAULT_LIMITS)).toBe('word-list');
    // A word the word list cannot bound byte-wise (not ASCII), not only a name $autocomplete, another order, a scope:
    // the match set.
    expect(await chooseAutocompletePlan(db, { filter_conditions: { name: { $autocomplete: 'usé' } } }, {}, DEFAULT_LIMITS)).toBe('match-set');
    expect(await chooseAutocompletePlan(db, { filter_conditions: { name: { $autocomplete: 'use' }, role: 'user' } }, {}, DEFAULT_LIMITS)).toBe('match-set');
    expect(await chooseAutocompletePlan(db, { ...common, sort: [{ field: 'name', direction: 1 }] }, {}, DEFAULT_LIMITS)).toBe('match-set');
    expect(await chooseAutocompletePlan(db, { ...common, id_lt: 'user-5' }, {}, DEFAULT_LIMITS)).toBe('match-set');
    expect(await chooseAutocompletePlan(db, common, { teamsOf: { userId: 'user-1', teams: ['a'] } }, DEFAULT_LIMITS)).toBe('match-set');

    // Both plans, either prefix: the same users in the same order, through the API and straight from each statement.
    for (const payload of [common, { ...common, offset: 900 }, { ...common, offset: 0, limit: 100 }, rare, { filter_conditions: { name: { $autocomplete: '4242' } }, limit: 7, offset: 3 }]) {
      const byPlan = await Promise.all(
        (['match-set', 'ordered-walk', 'word-list'] as const).map(async (p) => (await buildQueryUsersSql(payload, {}, DEFAULT_LIMITS, p).execute(db)).rows.map((u) => u.id)),
      );
      expect(byPlan[0]!.length).toBeGreaterThan(0);
      expect(byPlan[1]).toEqual(byPlan[0]);
      expect(byPlan[2]).toEqual(byPlan[0]);
      const response = await server.client.queryUsers({ payload: payload as never });
      expect(response.users.map((u) => u.id)).toEqual(byPlan[0]);
    }
    const page = await server.client.queryUsers({ payload: common as never });
    expect(page.users.map((u) => u.id)).toEqual(Array.from({ length: 30 }, (_, i) => `user-${ROWS - 60 - i}`));
  });

  // A prefix of a later word matching a few thousand users: the GIN index finds them but not in the default order, so
  // every match's row would be read and sorted. user_name_words (migration 014) lists each name word with its user's
  // created_at: the matches come in order from its primary key and only a page of users rows is read.
  it('autocompletes a later word through the word list, reading only a page of users', async () => {
    const db = server.database.db;
    forgetNameWordStats(db);
    const payload: QueryUsersPayload = { filter_conditions: { name: { $autocomplete: '4242' } }, limit: 5 };
    expect(await chooseAutocompletePlan(db, payload, {}, DEFAULT_LIMITS)).toBe('word-list');
    const plan = await expectIndexedPlan(payload, 'word-list');
    expect(indexesUsed(plan)).toContain('user_name_words_pkey');
    expect(indexesUsed(plan)).not.toContain('users_name_words_idx');
    const analyzed = await explain(payload, { analyze: true, plan: 'word-list' });
    expect(usersRowsRead(analyzed), JSON.stringify(analyzed, null, 2)).toBeLessThanOrEqual(5);
    const response = await server.client.queryUsers({ payload: payload as never });
    expect(response.users.map((u) => u.name)).toEqual(['user 42429', 'user 42428', 'user 42427', 'user 42426', 'user 42425']);
  });

  it('keeps the word list with the names: renamed, inserted and deleted users', async () => {
    const db = server.database.db;
    const words = async (id: string) =>
      (await sql<{ word: string }>`SELECT word FROM user_name_words WHERE user_id = ${id} ORDER BY word`.execute(db)).rows.map((r) => r.word);
    expect(await words('user-77')).toEqual(['77', 'user']);
    await sql`UPDATE users SET name = 'Zoë Quintero-Ruiz' WHERE id = 'user-77'`.execute(db);
    expect(await words('user-77')).toEqual(['quintero', 'quintero-ruiz', 'ruiz', 'zoë']);
    await sql`UPDATE users SET role = 'admin' WHERE id = 'user-77'`.execute(db);
    expect(await words('user-77')).toEqual(['quintero', 'quintero-ruiz', 'ruiz', 'zoë']);
    const page = await server.client.queryUsers({ payload: { filter_conditions: { name: { $autocomplete: 'ruiz' } } } });
    expect(page.users.map((u) => u.id)).toEqual(['user-77']);
    await sql`UPDATE users SET name = NULL WHERE id = 'user-77'`.execute(db);
    expect(await words('user-77')).toEqual([]);
    await sql`UPDATE users SET name = 'user 77' WHERE id = 'user-77'`.execute(db);
    expect(await words('user-77')).toEqual(['77', 'user']);
    await sql`INSERT INTO users (id, name) VALUES ('gone-1', 'Short Lived')`.execute(db);
    expect(await words('gone-1')).toEqual(['lived', 'short']);
    await sql`DELETE FROM users WHERE id = 'gone-1'`.execute(db);
    expect(await words('gone-1')).toEqual([]);
  });

  it('filters on custom-field equality with a limit', async () => {
    const payload = { filter_conditions: { color: 'red' }, limit: 10 };
    await expectIndexedPlan(payload);
    const response = await server.client.queryUsers({ payload });
    expect(response.users).toHaveLength(10);
    expect(response.users.every((u) => u.custom.color === 'red')).toBe(true);
  });

  it('finds a rare custom-field value through the GIN index', async () => {
    const payload = { filter_conditions: { n: 4242 } };
    const plan = await expectIndexedPlan(payload);
    expect(indexesUsed(plan)).toContain('users_custom_idx');
    const response = await server.client.queryUsers({ payload });
    expect(response.users.map((u) => u.id)).toEqual(['user-4242']);
  });

  it('walks the created_at index for the default sort', async () => {
    const payload = { filter_conditions: {}, limit: 30 };
    const plan = await expectIndexedPlan(payload);
    expect(indexesUsed(plan)).toContain('users_created_at_id_idx');
    const response = await server.client.queryUsers({ payload });
    expect(response.users.map((u) => u.id)).toEqual(Array.from({ length: 30 }, (_, i) => `user-${ROWS - i}`));
  });

  it('(control) the checks do see a sequential scan, and a full read, when a query needs one', async () => {
    // Sorting on a custom field has no index: if the helpers missed this, the tests above would prove nothing.
    const payload: QueryUsersPayload = { filter_conditions: {}, sort: [{ field: 'n', direction: -1, type: 'number' }] };
    expect(seqScansOnUsers(await explain(payload)).length).toBeGreaterThan(0);
    expect(usersRowsRead(await explain(payload, { analyze: true }))).toBe(ROWS);
    await expect(expectIndexedPlan(payload)).rejects.toThrow();
  });
});
