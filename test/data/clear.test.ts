// DELETE /operator/data: a test double's data emptied between tests, with what the process holds besides the tables;
// answered as an unknown endpoint where clearing is not allowed (a disk data folder without ALLOW_CLEAR=on).
import { sql } from 'kysely';
import { StreamChat } from 'stream-chat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEPT_TABLES } from '../../src/data/store.js';
import { API_KEY, API_SECRET, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';

async function tableCounts(server: TestServer): Promise<Record<string, number>> {
  const { rows } = await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`.execute(server.database.db);
  const counts: Record<string, number> = {};
  for (const { name } of rows) {
    const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.id(name)}`.execute(server.database.db);
    counts[name] = result.rows[0]!.n;
  }
  return counts;
}

/** Users, a block, a finished task, an export, activity, a webhook delivery and rate counts, through the SDKs. */
async function seed(server: TestServer): Promise<StreamChat> {
  await server.client.updateApp({ webhook_url: 'http://127.0.0.1:9/hook', enforce_unique_usernames: 'app' });
  await server.client.upsertUsers([{ id: 'ann', name: 'Ann', custom: { book: 'dune' } }, { id: 'bob', name: 'Bob' }]);
  await server.client.blockUsers({ blocked_user_id: 'bob', user_id: 'ann' });
  const { task_id } = await server.client.deactivateUsers({ user_ids: ['bob'] });
  await waitForTask(server.client, task_id);
  const chat = new StreamChat(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true });
  await chat.connectUser({ id: 'ann' }, new StreamChat(API_KEY, API_SECRET).createToken('ann'));
  return chat;
}

describe('DELETE /operator/data where clearing is allowed', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { allowClear: true }, rateLimit: { multiplier: 1, overrides: { GetApp: 3 } } });
    await sql`INSERT INTO app_settings (id) VALUES (1) ON CONFLICT DO NOTHING`.execute(server.database.db);
  });
  afterAll(() => server?.close());

  it('empties every data table in one call, closes open WebSockets, and keeps the credentials and settings', async () => {
    const chat = await seed(server);
    const hub = (server.app as unknown as { connectHub: { size: number } }).connectHub;
    expect(hub.size).toBe(1);
    const before = await tableCounts(server);
    for (const table of ['users', 'user_blocks', 'tasks', 'user_activity', 'user_connections', 'webhook_deliveries']) expect(before[table], table).toBeGreaterThan(0);

    const response = await server.request('DELETE', '/operator/data');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ settings_reset: false, duration: expect.any(String) });
    // Every table is either emptied or one the clear keeps on purpose; none is forgotten.
    expect([...response.body.tables, ...KEPT_TABLES].sort()).toEqual(Object.keys(before).sort());

    const after = await tableCounts(server);
    for (const table of response.body.tables) expect(after[table], table).toBe(0);
    expect(hub.size).toBe(0);
    // stream-chat does not reconnect after the close (1000), so its user is not written back.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hub.size).toBe(0);
    expect((await server.client.queryUsers({ payload: { filter_conditions: {} } })).users).toEqual([]);
    const { app } = await server.client.getApp();
    expect(app).toMatchObject({ webhook_url: 'http://127.0.0.1:9/hook', enforce_unique_usernames: 'app' });
    await chat.disconnectUser().catch(() => {});
  });

  it('resets the app settings to their defaults with settings=true, and the same credentials still work', async () => {
    await server.client.updateApp({ webhook_url: 'http://127.0.0.1:9/hook', multi_tenant_enabled: true });
    const response = await server.request('DELETE', '/operator/data', { query: { settings: 'true' } });
    expect(response.status).toBe(200);
    expect(response.body.settings_reset).toBe(true);
    const { app } = await server.client.getApp();
    expect(app.webhook_url ?? '').toBe('');
    expect(app.multi_tenant_enabled).toBe(false);
    expect(app.enforce_unique_usernames).toBe('no');
  });

  it("forgets this process's rate-limit counts", async () => {
    // GetApp's budget is 3 a minute here; the calls above spent some of it.
    let status = 200;
    for (let i = 0; i < 4 && status === 200; i++) status = (await server.request('GET', '/api/v2/app')).status;
    expect(status).toBe(429);
    expect((await server.request('DELETE', '/operator/data')).status).toBe(200);
    expect((await server.request('GET', '/api/v2/app')).status).toBe(200);
  });

  it('runs beside concurrent writes: every request answers, none with a server error', async () => {
    await server.client.upsertUsers([{ id: 'w1' }, { id: 'w2' }]);
    const writes = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0
        ? server.request('POST', '/api/v2/users', { body: { users: { [`w${i % 2 + 1}`]: { id: `w${i % 2 + 1}`, name: `n${i}` } } } })
        : i % 3 === 1
          ? server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'w1', set: { i } }, { id: 'w2', set: { i } }] } })
          : server.request('POST', '/api/v2/users/deactivate', { body: { user_ids: ['w2', 'w1'] } }),
    );
    const [clear, ...answers] = await Promise.all([server.request('DELETE', '/operator/data'), ...writes]);
    expect(clear.status).toBe(200);
    for (const answer of answers) expect(answer.status, answer.text).toBeLessThan(500);
  });

  it('requires server-side auth', async () => {
    const token = new StreamChat(API_KEY, API_SECRET).createToken('ann');
    const response = await server.request('DELETE', '/operator/data', { headers: { authorization: token } });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe(17);
  });
});

describe('DELETE /operator/data where clearing is not allowed', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ worker: false });
  });
  afterAll(() => server?.close());

  it('answers 404 as an unknown endpoint does, and deletes nothing', async () => {
    await server.client.upsertUsers([{ id: 'kept' }]);
    const response = await server.request('DELETE', '/operator/data');
    const unknown = await server.request('DELETE', '/operator/nothing-here');
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 16, StatusCode: 404, message: expect.stringContaining('DELETE /operator/data is not a known endpoint') });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe(16);
    expect((await server.client.queryUsers({ payload: { filter_conditions: { id: 'kept' } } })).users).toHaveLength(1);
  });
});
