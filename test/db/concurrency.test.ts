// Concurrent writes of the same users through every path that locks them: with one lock order everywhere
// (src/db/locks.ts) and conflicts retried inside the service, every request is answered 2xx, or 4xx where a rule
// refuses it; never 500, and never a 503 from waiting behind the deadlock detector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.runIf(usingPostgres)('concurrent writes of the same users (PostgreSQL)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ worker: false, webhooks: false, rateLimit: { multiplier: 1000, overrides: {} } });
  }, 60_000);
  afterAll(async () => server?.close());

  it('answers 200 to 200 partial updates of two users listed in opposite orders', async () => {
    await server.client.upsertUsers([{ id: 'pu-1' }, { id: 'pu-2' }]);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const ids = i % 2 === 0 ? ['pu-1', 'pu-2'] : ['pu-2', 'pu-1'];
        return server.request('PATCH', '/api/v2/users', { body: { users: ids.map((id) => ({ id, set: { counter: i } })) } });
      }),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  }, 60_000);

  it('answers 2xx or 4xx to a mix of upserts, partial updates and lifecycle calls on overlapping users with unique usernames', async () => {
    const settings = await server.request('PATCH', '/api/v2/app', { body: { enforce_unique_usernames: 'app' } });
    expect(settings.status).toBe(200);
    const ids = ['mx-a', 'mx-b', 'mx-c', 'mx-d'];
    await server.client.upsertUsers(ids.map((id) => ({ id, name: `name of ${id}` })));
    const names = ['Bob', 'Carol', 'Dave'];
    const pick = (i: number, n: number) => {
      const first = ids[i % ids.length]!;
      const second = ids[(i * 7 + 1) % ids.length]!;
      return first === second ? [first] : n % 2 === 0 ? [first, second] : [second, first];
    };
    const requests = Array.from({ length: 240 }, (_, i) => {
      const [first, second] = pick(i, i >> 2);
      const name = names[i % names.length]!;
      switch (i % 6) {
        case 0: // an upsert that gives a name, over two users in either order
          return server.request('POST', '/api/v2/users', {
            body: { users: Object.fromEntries([first, second].filter(Boolean).map((id, k) => [id, { id, name: k === 0 ? name : `${id} ${i}` }])) },
          });
        case 1: // a partial update setting the same names, the other way round
          return server.request('PATCH', '/api/v2/users', {
            body: { users: [second, first].filter(Boolean).map((id, k) => ({ id, set: k === 0 ? { name } : { teams: ['t'] } })) },
          });
        case 2:
          return server.request('POST', `/api/v2/users/${first}/deactivate`, { body: { created_by_id: second } });
        case 3:
          return server.request('POST', `/api/v2/users/${first}/reactivate`, { body: { name } });
        case 4:
          return server.request('POST', '/api/v2/users/deactivate', { body: { user_ids: [first, second].filter(Boolean) } });
        default:
          return server.request('POST', '/api/v2/users/reactivate', { body: { user_ids: [second, first].filter(Boolean) } });
      }
    });
    const answers = await Promise.all(requests);
    const failures = answers.filter((answer) => answer.status >= 500).map((answer) => `${answer.status} ${answer.text}`);
    expect(failures).toEqual([]);
    // Something went through, something was refused by a rule: the mix did exercise both.
    expect(answers.some((answer) => answer.status < 300)).toBe(true);
  }, 60_000);
});
