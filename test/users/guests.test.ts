import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_SECRET, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const secret = new TextEncoder().encode(API_SECRET);

async function storedUser(id: string) {
  const response = await server.client.queryUsers({ payload: { filter_conditions: { id } } });
  return response.users[0];
}

describe('POST /api/v2/guest', () => {
  it('creates a guest with a fresh id that contains the requested one, role guest, custom data kept', async () => {
    const response = await server.client.createGuest({ user: { id: 'guest', name: 'G', custom: { a: 1 } } });
    const user = response.user;
    expect(user.role).toBe('guest');
    expect(user.id).toContain('guest');
    expect(user.id).not.toBe('guest');
    expect(user.id).toMatch(/^[@\w-]{1,255}$/);
    expect(user.name).toBe('G');
    expect(user.custom).toEqual({ a: 1 });
    expect(user.created_at).toBeInstanceOf(Date);
    expect(Math.abs(user.created_at.getTime() - Date.now())).toBeLessThan(60_000);
    expect(user.blocked_user_ids).toEqual([]);
    expect(typeof response.duration).toBe('string');
    expect(response.metadata.responseCode).toBe(201);

    // It is stored as such.
    const stored = await storedUser(user.id);
    expect(stored).toMatchObject({ id: user.id, role: 'guest', name: 'G', custom: { a: 1 } });
    expect(await storedUser('guest')).toBeUndefined();
  });

  it('returns an HS256 user token for the returned id, signed with the app secret', async () => {
    const response = await server.client.createGuest({ user: { id: 'tokenguest' } });
    const token = response.access_token;
    expect(token.split('.')).toHaveLength(3);
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    expect(decodeJwt(token).user_id).toBe(response.user.id);

    const { payload, protectedHeader } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.user_id).toBe(response.user.id);
    expect(payload.server).toBeUndefined();

    // Signed with the app secret and nothing else.
    await expect(jwtVerify(token, new TextEncoder().encode(`${API_SECRET}-other`), { algorithms: ['HS256'] })).rejects.toThrow();
  });

  it('never hands out the id (or a token for the id) of an existing user', async () => {
    await server.client.upsertUsers([{ id: 'taken', role: 'admin', name: 'Owner', custom: { mine: true } }]);
    const response = await server.client.createGuest({ user: { id: 'taken', name: 'Impostor', custom: { mine: false } } });
    expect(response.user.id).not.toBe('taken');
    expect(response.user.id).toContain('taken');
    expect(decodeJwt(response.access_token).user_id).toBe(response.user.id);
    expect(decodeJwt(response.access_token).user_id).not.toBe('taken');
    // The existing user is untouched.
    expect(await storedUser('taken')).toMatchObject({ id: 'taken', role: 'admin', name: 'Owner', custom: { mine: true } });
  });

  it('gives two guests asking for the same id two different ids', async () => {
    const [first, second] = await Promise.all([
      server.client.createGuest({ user: { id: 'twin' } }),
      server.client.createGuest({ user: { id: 'twin' } }),
    ]);
    expect(first.user.id).not.toBe(second.user.id);
    expect(first.user.id).toContain('twin');
    expect(second.user.id).toContain('twin');
  });

  it('refuses a guest another role, teams or teams_role (403, code 17), as a user\'s own upsert, and creates nothing', async () => {
    const anonymous = { 'stream-auth-type': 'anonymous', authorization: '' };
    for (const [path, user] of [
      ['/api/v2/guest', { id: 'wannabe', role: 'admin' }],
      ['/api/v2/guest', { id: 'wannabe', teams: ['red'] }],
      ['/api/v2/guest', { id: 'wannabe', teams_role: { red: 'admin' } }],
      ['/guest', { id: 'wannabe', role: 'admin' }],
      ['/guest', { id: 'wannabe', teams_role: { red: 'admin' } }],
    ] as const) {
      const refused = await server.request('POST', path, { headers: anonymous, body: { user } });
      expect(refused.status, JSON.stringify(user)).toBe(403);
      expect(refused.body).toMatchObject({ code: 17, message: expect.stringMatching(/^CreateGuest failed with error: ".*server-side/) });
    }
    await expect(server.client.createGuest({ user: { id: 'wannabe', role: 'admin' } })).rejects.toMatchObject({ code: 17 });
    const response = await server.client.queryUsers({ payload: { filter_conditions: { id: { $autocomplete: 'wannabe' } } } });
    expect(response.users).toEqual([]);
  });

  it('accepts role guest, empty teams, and everything else a user may set on itself; ignores read-only fields', async () => {
    const anonymous = { 'stream-auth-type': 'anonymous', authorization: '' };
    const v2 = await server.request('POST', '/api/v2/guest', {
      headers: anonymous,
      body: {
        user: {
          id: 'fullguest', role: 'guest', teams: [], name: 'Full', image: 'i.png', language: 'fr', invisible: true,
          privacy_settings: { typing_indicators: { enabled: false } }, custom: { x: 1 },
          created_at: '2001-01-01T00:00:00Z', banned: true, deactivated_at: '2001-01-01T00:00:00Z', online: true,
        },
      },
    });
    expect(v2.status).toBe(201);
    expect(v2.body.user).toMatchObject({ role: 'guest', teams: [], name: 'Full', image: 'i.png', language: 'fr', invisible: true, banned: false, custom: { x: 1 } });
    expect(v2.body.user).not.toHaveProperty('deactivated_at');
    // v1 (stream-chat's setGuestUser sends the app's user object as it is): top-level custom fields, read-only ones ignored.
    const v1 = await server.request('POST', '/guest', {
      headers: anonymous,
      body: { user: { id: 'v1guest', role: 'guest', teams: null, teams_role: null, color: 'blue', created_at: '2001-01-01T00:00:00Z', last_active: 'x', online: true } },
    });
    expect(v1.status).toBe(201);
    expect(v1.body.user).toMatchObject({ role: 'guest', color: 'blue' });
    expect(v1.body.user.created_at).not.toMatch(/^2001/);
  });

  it('keeps a long requested id within the 255-character limit', async () => {
    const requested = 'g'.repeat(255);
    const response = await server.client.createGuest({ user: { id: requested } });
    expect(response.user.id.length).toBeLessThanOrEqual(255);
    expect(response.user.id).not.toBe(requested);
    expect(response.user.id).toMatch(/^g+-[@\w-]+$/);
  });

  it('answers 201 with integer-nanosecond dates on the wire', async () => {
    const raw = await server.request('POST', '/api/v2/guest', { body: { user: { id: 'rawguest' } } });
    expect(raw.status).toBe(201);
    expect(raw.text).toMatch(/"created_at":\d{19}[,}]/);
    expect(typeof raw.body.access_token).toBe('string');
  });

  it('rejects an invalid or missing user with code 4 and creates nothing', async () => {
    await expect(server.client.createGuest({ user: { id: 'bad id!' } })).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
    await expect(server.client.createGuest({ user: { id: 'bad id!' } })).rejects.toThrow(/CreateGuest failed with error: "/);
    const missing = await server.request('POST', '/api/v2/guest', { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe(4);
    const response = await server.client.queryUsers({ payload: { filter_conditions: { id: { $autocomplete: 'bad' } } } });
    expect(response.users).toEqual([]);
  });

  it("gives the guest a token for its own requests, not the server's", async () => {
    const response = await server.client.createGuest({ user: { id: 'limited' } });
    const headers = { authorization: response.access_token };
    const own = await server.request('GET', '/api/v2/users', { headers, query: { payload: JSON.stringify({ filter_conditions: { id: response.user.id } }) } });
    expect(own.status).toBe(200);
    expect(own.body.users.map((u: { id: string }) => u.id)).toEqual([response.user.id]);
    const refused = await server.request('POST', '/api/v2/users/delete', { headers, body: { user_ids: [response.user.id] } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe(17);
    expect(refused.body.message).toMatch(/^DeleteUsers failed with error: "/);
  });
});
