// Authentication exactly like Stream's, at the HTTP level: the api_key parameter, stream-auth-type, and the JWT.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, API_SECRET, signToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.client.upsertUsers([{ id: 'x' }, { id: 'y' }]);
});
afterAll(async () => {
  await server?.close();
});

const now = () => Math.floor(Date.now() / 1000);

/** A correctly signed HMAC token with another hash than SHA-256. */
function signHmac(payload: object, alg: 'HS384' | 'HS512'): string {
  const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const hash = alg === 'HS384' ? 'sha384' : 'sha512';
  return `${header}.${body}.${createHmac(hash, API_SECRET).update(`${header}.${body}`).digest('base64url')}`;
}

function unsigned(payload: object): string {
  const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
}

type Raw = Awaited<ReturnType<TestServer['request']>>;

function expectAuthError(response: Raw, status: number, code: number, detail?: string | RegExp) {
  expect(response.status, response.text).toBe(status);
  expect(response.body.code).toBe(code);
  expect(response.body.StatusCode).toBe(status);
  expect(response.body.message).toMatch(/^QueryUsers failed with error: ".*"$/);
  if (typeof detail === 'string') expect(response.body.message).toBe(`QueryUsers failed with error: "${detail}"`);
  else if (detail) expect(response.body.message).toMatch(detail);
}

const query = (options: Parameters<TestServer['request']>[2] = {}) => server.request('GET', '/api/v2/users', options);
const withToken = (token: string) => query({ headers: { authorization: token } });

describe('api_key', () => {
  it('answers a missing api_key with 401 code 2 "api_key not provided"', async () => {
    const response = await fetch(`${server.baseUrl}/api/v2/users`, {
      headers: { 'stream-auth-type': 'jwt', authorization: signToken({ server: true }) },
    });
    const body = await response.json();
    expect(response.status).toBe(401);
    expect(body).toMatchObject({ code: 2, StatusCode: 401, message: 'QueryUsers failed with error: "api_key not provided"' });
    expectAuthError(await query({ query: { api_key: '' } }), 401, 2, 'api_key not provided');
  });

  it('answers a wrong api_key with 401 code 2', async () => {
    expectAuthError(await query({ query: { api_key: 'not-the-key' } }), 401, 2, 'api_key is invalid');
    expectAuthError(await query({ query: { api_key: `${API_KEY}x` } }), 401, 2, 'api_key is invalid');
  });

  it('checks the key before anything is written', async () => {
    const response = await server.request('POST', '/api/v2/users', { query: { api_key: 'wrong' }, body: { users: { sneaky: { id: 'sneaky' } } } });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe(2);
    expect((await server.client.queryUsers({ payload: { filter_conditions: { id: 'sneaky' } } })).users).toEqual([]);
  });
});

describe('stream-auth-type', () => {
  it('answers a missing stream-auth-type with 401 code 5', async () => {
    expectAuthError(await query({ headers: { 'stream-auth-type': '' } }), 401, 5, 'stream-auth-type missing or invalid');
  });

  it('answers an invalid stream-auth-type with 401 code 5', async () => {
    expectAuthError(await query({ headers: { 'stream-auth-type': 'basic' } }), 401, 5, 'stream-auth-type missing or invalid');
  });

  it('reads stream-auth-type case-insensitively', async () => {
    expect((await query({ headers: { 'stream-auth-type': 'JWT' } })).status).toBe(200);
  });

  it('answers jwt auth without an Authorization header with 401 code 5', async () => {
    expectAuthError(await query({ headers: { authorization: '' } }), 401, 5);
  });

  it('refuses anonymous callers on the users routes with 403 code 17', async () => {
    expectAuthError(await query({ headers: { 'stream-auth-type': 'anonymous', authorization: '' } }), 403, 17);
  });
});

describe('JWT', () => {
  it('accepts a server token without exp or iat (what the SDK sends)', async () => {
    const token = signToken({ server: true });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(payload).toEqual({ server: true });
    expect((await withToken(token)).status).toBe(200);
  });

  it('accepts a server token with valid exp/iat/nbf and extra claims', async () => {
    const token = signToken({ server: true, iat: now() - 10, nbf: now() - 10, exp: now() + 600, extra: 'claim' });
    expect((await withToken(token)).status).toBe(200);
  });

  it('accepts an optional "Bearer " prefix', async () => {
    expect((await withToken(`Bearer ${signToken({ server: true })}`)).status).toBe(200);
  });

  it('rejects an unsigned alg "none" token', async () => {
    const response = await withToken(unsigned({ server: true }));
    expect(response.status).toBe(401);
    expect([5, 43]).toContain(response.body.code);
    // Nor does a "none" header with a real signature get through.
    const forged = signToken({ server: true }, { header: { alg: 'none', typ: 'JWT' } });
    const second = await withToken(forged);
    expect(second.status).toBe(401);
    expect([5, 43]).toContain(second.body.code);
  });

  it.each(['HS384', 'HS512'] as const)('rejects a correctly signed %s token', async (alg) => {
    const response = await withToken(signHmac({ server: true }, alg));
    expect(response.status).toBe(401);
    expect([5, 43]).toContain(response.body.code);
  });

  it('rejects a token signed with another secret with code 43', async () => {
    expectAuthError(
      await withToken(signToken({ server: true }, { secret: 'another-secret' })),
      401,
      43,
      `JWTAuth error: signature is not valid. Make sure the token is created using the secret for API key "${API_KEY}"`,
    );
  });

  it('rejects a token whose payload was altered with code 43', async () => {
    const [header, , signature] = signToken({ user_id: 'x' }).split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ server: true })).toString('base64url')}.${signature}`;
    expectAuthError(await withToken(tampered), 401, 43);
  });

  it('rejects an expired token with code 40', async () => {
    expectAuthError(await withToken(signToken({ server: true, exp: now() - 3600 })), 401, 40);
    expectAuthError(await withToken(signToken({ user_id: 'x', iat: now() - 7200, exp: now() - 3600 })), 401, 40);
  });

  it('rejects a token not valid yet (nbf in the future) with code 41', async () => {
    expectAuthError(await withToken(signToken({ server: true, nbf: now() + 3600 })), 401, 41);
  });

  it('rejects a token issued in the future (iat) with code 42', async () => {
    expectAuthError(await withToken(signToken({ server: true, iat: now() + 3600 })), 401, 42);
  });

  it('rejects malformed tokens and tokens without server or user_id with code 5', async () => {
    for (const token of ['abc', 'a.b.c', signToken({}), signToken({ server: 'true' }), signToken({ user_id: '' })]) {
      const response = await withToken(token);
      expect(response.status, token).toBe(401);
      expect(response.body.code, token).toBe(5);
    }
  });

  it('refuses a user token on server-side routes, and on other users, with 403 code 17', async () => {
    const token = signToken({ user_id: 'x' });
    const headers = { authorization: token };
    await server.client.upsertUsers([{ id: 'y' }]);
    const calls: Array<[string, string, Parameters<TestServer['request']>[2], string]> = [
      ['POST', '/api/v2/users', { body: { users: { y: { id: 'y', name: 'hacked' } } } }, 'UpdateUsers'],
      ['POST', '/api/v2/users', { body: { users: { x: { id: 'x', name: 'hacked', role: 'admin' } } } }, 'UpdateUsers'],
      ['PATCH', '/api/v2/users', { body: { users: [{ id: 'y', set: { name: 'hacked' } }] } }, 'UpdateUsersPartial'],
      ['PATCH', '/api/v2/users', { body: { users: [{ id: 'x', set: { role: 'admin' } }] } }, 'UpdateUsersPartial'],
      ['PATCH', '/api/v2/users', { body: { users: [{ id: 'x', set: { revoke_tokens_issued_before: null } }] } }, 'UpdateUsersPartial'],
      ['POST', '/api/v2/users/block', { body: { blocked_user_id: 'x', user_id: 'y' } }, 'BlockUsers'],
      ['GET', '/api/v2/users/block', { query: { user_id: 'y' } }, 'GetBlockedUsers'],
      ['POST', '/api/v2/users/y/deactivate', { body: {} }, 'DeactivateUser'],
      ['POST', '/api/v2/users/delete', { body: { user_ids: ['y'] } }, 'DeleteUsers'],
      ['POST', '/api/v2/users/restore', { body: { user_ids: ['y'] } }, 'RestoreUsers'],
      ['POST', '/api/v2/export/users', { body: { user_ids: ['x'] } }, 'ExportUsers'],
      ['GET', '/api/v2/users/x/export', {}, 'ExportUser'],
      ['GET', '/api/v2/tasks/00000000-0000-4000-8000-000000000000', {}, 'GetTask'],
      ['PATCH', '/api/v2/app', { body: { multi_tenant_enabled: true } }, 'UpdateApp'],
    ];
    for (const [method, path, options, operation] of calls) {
      const response = await server.request(method, path, { ...options, headers });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body.code).toBe(17);
      expect(response.body.message).toMatch(new RegExp(`^${operation} failed with error: ".+"$`));
    }
    const y = (await server.client.queryUsers({ payload: { filter_conditions: { id: 'y' } } })).users[0]!;
    expect(y.name).toBeUndefined();
    expect(y.deleted_at).toBeUndefined();
    // Nothing was written.
    const x = (await server.client.queryUsers({ payload: { filter_conditions: { id: 'x' } } })).users[0];
    expect(x?.role ?? 'user').toBe('user');
    expect(x?.name).toBeUndefined();
  });
});
