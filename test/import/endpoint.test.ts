// POST /operator/import over raw HTTP: the three line forms, refusals by line, limits, gzip, idempotence, the conflict
// policies, blocks across chunks, deleted users and unique usernames; and what the SDK then reads back.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, serverToken, signToken, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ webhooks: false });
});

afterAll(async () => {
  await server.close();
});

async function post(body: string | Buffer, query: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const url = new URL('/operator/import', server.baseUrl);
  url.searchParams.set('api_key', API_KEY);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'stream-auth-type': 'jwt', authorization: serverToken(), 'content-type': 'application/x-ndjson', ...headers },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) };
}

const lines = (...items: unknown[]) => items.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))).join('\n') + '\n';

async function stored(id: string) {
  const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id }, include_deactivated_users: true } });
  return users[0];
}

describe('POST /operator/import', () => {
  it('imports v2, v1 and export lines with their date-times, and reports a malformed line and a refused user by line', async () => {
    const body = lines(
      { id: 'imp-v2', name: 'Vé Two', role: 'admin', teams: ['red'], teams_role: { red: 'admin' }, language: 'fr', custom: { color: 'red', n: 1 },
        created_at: '2020-01-02T03:04:05.123456Z', updated_at: 1_600_000_000_123_456_000n.toString(), last_active: '2021-05-06T07:08:09Z',
        revoke_tokens_issued_before: '2022-01-01T00:00:00Z', invisible: true, privacy_settings: { typing_indicators: { enabled: false } } },
      '',
      { id: 'imp-v1', name: 'One', color: 'blue', nested: { a: [1, 2] }, created_at: '2019-12-31T23:59:59.999999Z', updated_at: '2020-06-01T00:00:00Z',
        deactivated_at: '2020-07-01T00:00:00+02:00' },
      { user: { id: 'imp-export', name: 'Exported', custom: { from: 'export' }, created_at: 1_500_000_000_000_000_000, updated_at: 1_500_000_000_000_000_000,
        deleted_at: 1_600_000_000_000_000_000 }, messages: [], reactions: [] },
      '{"id": "broken",',
      { id: 'bad id!', name: 'x' },
      { id: 'imp-big', custom: { blob: 'x'.repeat(6000) } },
      { id: 'imp-role', role: 42 },
    );
    const result = await post(body);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ imported: 3, unchanged: 0 });
    expect(result.body.failed.map((f: { line: number }) => f.line)).toEqual([5, 6, 7, 8]);
    expect(result.body.failed[0]).toMatchObject({ line: 5, id: null, message: 'the line is not valid JSON' });
    expect(result.body.failed[1].message).toMatch(/user id "bad id!" is invalid/);
    expect(result.body.failed[2]).toMatchObject({ id: 'imp-big', message: expect.stringMatching(/user "imp-big" is too large/) });
    expect(result.body.failed[3]).toMatchObject({ id: 'imp-role', message: expect.stringMatching(/role/) });

    const v2 = await stored('imp-v2');
    expect(v2).toMatchObject({ name: 'Vé Two', role: 'admin', teams: ['red'], teams_role: { red: 'admin' }, language: 'fr', custom: { color: 'red', n: 1 }, invisible: true });
    expect(v2!.created_at.toISOString()).toBe('2020-01-02T03:04:05.123Z');
    expect(v2!.updated_at.getTime()).toBe(1_600_000_000_123);
    expect(v2!.last_active!.toISOString()).toBe('2021-05-06T07:08:09.000Z');
    expect(v2!.revoke_tokens_issued_before!.toISOString()).toBe('2022-01-01T00:00:00.000Z');
    const v1 = await stored('imp-v1');
    expect(v1).toMatchObject({ name: 'One', custom: { color: 'blue', nested: { a: [1, 2] } } });
    expect(v1!.deactivated_at!.toISOString()).toBe('2020-06-30T22:00:00.000Z');
    // A deleted user is not listed by queryUsers, but is there, soft-deleted, and restorable.
    expect(await stored('imp-export')).toBeUndefined();
    const restore = await server.request('POST', '/api/v2/users/restore', { body: { user_ids: ['imp-export'] } });
    expect(restore.status).toBe(201);
    expect(await stored('imp-export')).toMatchObject({ name: 'Exported', custom: { from: 'export' } });

    // The same chunk again changes nothing (the restored user now differs from its line, but is kept: its stored
    // updated_at, set by the restore, is newer).
    const again = await post(body);
    expect(again.body).toMatchObject({ imported: 0, unchanged: 3 });
    expect(again.body.failed).toHaveLength(4);
  });

  it('keeps microseconds exactly, and nanosecond integers in either form', async () => {
    const result = await post(lines({ id: 'imp-exact', custom: {}, created_at: 1_700_000_000_123_456_789n.toString(), updated_at: '2023-11-14T22:13:20.123456789Z' }));
    expect(result.body).toMatchObject({ imported: 1 });
    const raw = await server.request('GET', '/users', { query: { payload: JSON.stringify({ filter_conditions: { id: 'imp-exact' } }) } });
    expect(raw.body.users[0].created_at).toBe('2023-11-14T22:13:20.123456Z');
    expect(raw.body.users[0].updated_at).toBe('2023-11-14T22:13:20.123456Z');
    // An integer past 2^53 in custom data is stored as written.
    await post('{"id": "imp-big-int", "custom": {"snowflake": 1234567890123456789012}}\n');
    const { sql } = await import('kysely');
    const stored = await sql<{ snowflake: string }>`SELECT custom ->> 'snowflake' AS snowflake FROM users WHERE id = 'imp-big-int'`.execute(server.database.db);
    expect(stored.rows[0]!.snowflake).toBe('1234567890123456789012');
  });

  it('refuses a body that is not JSON lines, or over the limits, and writes nothing', async () => {
    expect((await post('hello\nworld\n')).status).toBe(400);
    expect((await post('')).status).toBe(400);
    expect((await post('\n\n')).status).toBe(400);
    expect((await post(Buffer.from([0xff, 0xfe, 0x00, 0x41]))).status).toBe(400);
    expect((await post(Buffer.from('not gzip'), {}, { 'content-encoding': 'gzip' })).status).toBe(400);
    const many = Array.from({ length: 10_001 }, (_, i) => JSON.stringify({ id: `imp-many-${i}` })).join('\n');
    const tooMany = await post(many);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.message).toMatch(/too many lines/);
    expect(await stored('imp-many-0')).toBeUndefined();
    // 17 MB of spaces compress to almost nothing: the limit is on what they decompress to.
    const bomb = gzipSync(Buffer.alloc(17 * 1024 * 1024, ' '));
    const bombed = await post(bomb, {}, { 'content-encoding': 'gzip' });
    expect(bombed.status).toBe(413);
    expect(bombed.body).toMatchObject({ code: 22, StatusCode: 413 });
    expect((await post(lines({ id: 'imp-x' }), { on_conflict: 'sometimes' })).status).toBe(400);
    // A user token may not import.
    const url = new URL('/operator/import', server.baseUrl);
    url.searchParams.set('api_key', API_KEY);
    const asUser = await fetch(url, {
      method: 'POST',
      headers: { 'stream-auth-type': 'jwt', authorization: signToken({ user_id: 'imp-exact', iat: Math.floor(Date.now() / 1000) }) },
      body: lines({ id: 'imp-exact' }),
    });
    expect(asUser.status).toBe(403);
  });

  it('accepts gzip, by header or by its first bytes', async () => {
    const body = gzipSync(lines({ id: 'imp-gz-1', custom: {} }, { id: 'imp-gz-2', custom: {} }));
    expect((await post(body, {}, { 'content-encoding': 'gzip' })).body).toMatchObject({ imported: 2 });
    expect((await post(body)).body).toMatchObject({ imported: 0, unchanged: 2 });
  });

  it('lets the newer updated_at win by default; skip and overwrite choose', async () => {
    const at = (iso: string, name: string) => ({ id: 'imp-policy', name, custom: {}, created_at: '2020-01-01T00:00:00Z', updated_at: iso });
    expect((await post(lines(at('2024-01-01T00:00:00Z', 'first')))).body).toMatchObject({ imported: 1 });
    expect((await post(lines(at('2023-01-01T00:00:00Z', 'older')))).body).toMatchObject({ imported: 0, unchanged: 1 });
    expect((await stored('imp-policy'))!.name).toBe('first');
    expect((await post(lines(at('2025-01-01T00:00:00Z', 'newer')))).body).toMatchObject({ imported: 1 });
    expect((await stored('imp-policy'))!.name).toBe('newer');
    expect((await post(lines(at('2026-01-01T00:00:00Z', 'skipped')), { on_conflict: 'skip' })).body).toMatchObject({ imported: 0, unchanged: 1 });
    expect((await post(lines(at('2020-01-01T00:00:00Z', 'overwritten')), { on_conflict: 'overwrite' })).body).toMatchObject({ imported: 1 });
    const user = await stored('imp-policy');
    expect(user!.name).toBe('overwritten');
    expect(user!.updated_at.toISOString()).toBe('2020-01-01T00:00:00.000Z');
  });

  it('keeps blocks, also of users that a later chunk brings', async () => {
    expect((await post(lines({ id: 'imp-blocker', custom: {}, blocked_user_ids: ['imp-zz-later', 'imp-gz-1'] }))).body).toMatchObject({ imported: 1 });
    expect((await stored('imp-blocker'))!.blocked_user_ids).toEqual(['imp-gz-1']);
    await post(lines({ id: 'imp-zz-later', custom: {} }));
    expect([...(await stored('imp-blocker'))!.blocked_user_ids].sort()).toEqual(['imp-gz-1', 'imp-zz-later']);
    // The list is the user's blocks: one left out is removed, and the user counts as imported.
    expect((await post(lines({ id: 'imp-blocker', custom: {}, blocked_user_ids: ['imp-zz-later'] }))).body).toMatchObject({ imported: 1 });
    expect((await stored('imp-blocker'))!.blocked_user_ids).toEqual(['imp-zz-later']);
  });

  it('sends no webhook unless asked, and then one user.updated per user written', async () => {
    const { sql } = await import('kysely');
    const deliveries = async () =>
      (await sql<{ user_id: string; body: string }>`SELECT user_id, body FROM webhook_deliveries ORDER BY seq`.execute(server.database.db)).rows;
    await server.client.updateApp({ webhook_url: 'http://127.0.0.1:9/import-hook', webhook_events: ['user.updated'] });
    try {
      const before = (await deliveries()).length;
      expect((await post(lines({ id: 'imp-hook-1', custom: {} }))).body).toMatchObject({ imported: 1 });
      expect(await deliveries()).toHaveLength(before);
      const asked = await post(lines({ id: 'imp-hook-2', custom: { a: 1 } }, { id: 'imp-hook-3', custom: {} }, { id: 'imp-hook-1', custom: {} }), { webhooks: 'true' });
      expect(asked.body).toMatchObject({ imported: 2, unchanged: 1 });
      const sent = (await deliveries()).slice(before);
      expect(sent.map((delivery) => delivery.user_id).sort()).toEqual(['imp-hook-2', 'imp-hook-3']);
      expect(JSON.parse(sent.find((delivery) => delivery.user_id === 'imp-hook-2')!.body)).toMatchObject({ type: 'user.updated', user: { id: 'imp-hook-2', a: 1 } });
    } finally {
      await server.client.updateApp({ webhook_url: '', webhook_events: [] });
    }
  });

  it('holds upsert rules: a deleted user is not updated, and unique usernames are enforced within and across chunks', async () => {
    await server.client.upsertUsers([{ id: 'imp-gone', name: 'Gone' }]);
    const { task_id } = await server.client.deleteUsers({ user_ids: ['imp-gone'] });
    expect((await waitForTask(server.client, task_id)).status).toBe('completed');
    const gone = await post(lines({ id: 'imp-gone', name: 'Back', custom: {} }));
    expect(gone.body.failed).toEqual([{ line: 1, id: 'imp-gone', message: `user "imp-gone" was deleted, it can't be updated` }]);

    await server.request('PATCH', '/api/v2/app', { body: { enforce_unique_usernames: 'app' } });
    try {
      await server.client.upsertUsers([{ id: 'imp-name-owner', name: 'Taken Name' }]);
      const result = await post(lines(
        { id: 'imp-name-1', name: 'taken_name', custom: {} },
        { id: 'imp-name-2', name: 'Fresh', custom: {} },
        { id: 'imp-name-3', name: 'fresh', custom: {} },
      ));
      expect(result.body).toMatchObject({ imported: 1 });
      expect(result.body.failed).toEqual([
        { line: 1, id: 'imp-name-1', message: "username 'taken_name' already exists" },
        { line: 3, id: 'imp-name-3', message: "username 'fresh' already exists" },
      ]);
      expect(await stored('imp-name-1')).toBeUndefined();
    } finally {
      await server.request('PATCH', '/api/v2/app', { body: { enforce_unique_usernames: 'no' } });
    }
  });
});
