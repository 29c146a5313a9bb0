// The client query cap: a user token's queryUsers whose planned cost is over LIMIT_CLIENT_QUERY_COST is refused (400,
// code 4) before it runs, while cheap client queries (id, custom $eq, name autocomplete, teams, the default order) keep
// working; server-side callers keep the whole language. The cap here is set low against 40,000 users, as the default
// is against a few hundred thousand (bench/client-queries.ts measures that).
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetNameWordStats } from '../../src/users/store/word-stats.js';
import { seedWithoutTimeout } from '../helpers/database.js';
import { signToken, startTestServer, type TestServer } from '../helpers/server.js';

const USERS = 40_000;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false, webhooks: false, limits: { clientQueryCost: 800 } });
  await seedWithoutTimeout(server.database.db, sql`
    INSERT INTO users (id, name, teams, custom, language, created_at, updated_at)
    SELECT 'c' || lpad(i::text, 6, '0'),
           (CASE WHEN i % 10000 = 1 THEN 'Xiomara' ELSE (ARRAY['Alice', 'Bruno', 'Chiara', 'Dmitri'])[1 + i % 4] END) || ' Doe',
           ARRAY[(ARRAY['alpha', 'bravo', 'charlie'])[1 + i % 3]],
           jsonb_build_object('color', (ARRAY['red', 'green', 'blue'])[1 + i % 3], 'n', i),
           (ARRAY['en', 'fr'])[1 + i % 2],
           now() - make_interval(secs => ${USERS} - i), now()
    FROM generate_series(1, ${USERS}) AS i`);
  // As autovacuum leaves it: statistics, and the GIN index's pending list merged.
  await sql`VACUUM ANALYZE users`.execute(server.database.db);
  forgetNameWordStats(server.database.db);
}, 60_000);
afterAll(async () => {
  await server?.close();
});

const asUser = { 'stream-auth-type': 'jwt', authorization: signToken({ user_id: 'c000001', iat: Math.floor(Date.now() / 1000) - 5 }) };

function query(payload: object, headers?: Record<string, string>, path = '/api/v2/users') {
  return server.request('GET', path, { query: { payload: JSON.stringify(payload) }, ...(headers ? { headers } : {}) });
}

const EXPENSIVE = {
  'sort on a custom field': { filter_conditions: {}, sort: [{ field: 'n', direction: -1 }] },
  '$gt on a custom field': { filter_conditions: { n: { $gt: USERS - 3 } } },
  '$exists on a custom field': { filter_conditions: { nickname: { $exists: true } } },
};

const CHEAP = {
  'id $eq': { filter_conditions: { id: 'c000042' } },
  'custom $eq': { filter_conditions: { n: 4242 } },
  'custom $eq, no match': { filter_conditions: { book: 'dune' } },
  'name $autocomplete, rare prefix': { filter_conditions: { name: { $autocomplete: 'xio' } } },
  'name $autocomplete, common prefix': { filter_conditions: { name: { $autocomplete: 'ali' } } },
  'teams $contains': { filter_conditions: { teams: { $contains: 'alpha' } } },
  'the default order': { filter_conditions: {} },
  'a common language': { filter_conditions: { language: 'en' } },
};

describe('the client query cap', () => {
  it('refuses a user token\'s costly queries with 400, code 4, saying to filter on an indexed field', async () => {
    for (const [name, payload] of Object.entries(EXPENSIVE)) {
      for (const path of ['/api/v2/users', '/users']) {
        const refused = await query(payload, asUser, path);
        expect(refused.status, `${name} ${path}`).toBe(400);
        expect(refused.body).toMatchObject({ code: 4, message: expect.stringMatching(/^QueryUsers failed with error: ".*client query cap.*indexed field/) });
      }
    }
  });

  it('answers cheap client queries', async () => {
    for (const [name, payload] of Object.entries(CHEAP)) {
      const response = await query(payload, asUser);
      expect(response.status, `${name}: ${response.text.slice(0, 300)}`).toBe(200);
    }
    expect((await query(CHEAP['custom $eq'], asUser)).body.users.map((user: { id: string }) => user.id)).toEqual(['c004242']);
    expect((await query(CHEAP['name $autocomplete, rare prefix'], asUser)).body.users).toHaveLength(USERS / 10_000);
  });

  it('keeps the whole language for server-side callers', async () => {
    for (const [name, payload] of Object.entries(EXPENSIVE)) {
      const response = await query(payload);
      expect(response.status, name).toBe(200);
    }
    expect((await query(EXPENSIVE['$gt on a custom field'])).body.users).toHaveLength(3);
  });
});
