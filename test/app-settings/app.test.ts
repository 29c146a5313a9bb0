// The v2 app settings (GET/PATCH /api/v2/app) and token revocation through @stream-io/node-sdk: getApp, updateApp,
// and a user's cut-off set with updateUsersPartial. User tokens are sent raw, as a client-side app would.
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, signToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ worker: false });
  await server.client.upsertUsers([{ id: 'alice' }, { id: 'bob' }]);
});
afterEach(async () => {
  await server.client.updateApp({ revoke_tokens_issued_before: null, enforce_unique_usernames: 'no' } as never);
});
afterAll(async () => {
  await server?.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const tokenFor = (userId: string, iat?: number) => signToken(iat === undefined ? { user_id: userId } : { user_id: userId, iat });

async function queryAs(token: string) {
  const response = await server.request('GET', '/api/v2/users', { headers: { authorization: token } });
  return { status: response.status, body: response.body };
}

async function nextSecond(ms: number) {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (ms % 1000) + 5));
}

describe('getApp / updateApp', () => {
  it('reads the settings this server honours', async () => {
    const response = await server.client.getApp();
    expect(response.app).toEqual({
      name: API_KEY,
      guest_user_creation_disabled: false,
      enforce_unique_usernames: 'no',
      multi_tenant_enabled: false,
      webhook_url: '',
      webhook_events: [],
      event_hooks: [],
    });
    expect(response.metadata.responseCode).toBe(200);
    expect(typeof response.duration).toBe('string');
  });

  it('sets revoke_tokens_issued_before from a Date and reads it back as integer nanoseconds', async () => {
    const cutoff = new Date(Date.now() - 5_000);
    const update = await server.client.updateApp({ revoke_tokens_issued_before: cutoff });
    expect(update.metadata.responseCode).toBe(200);
    const response = await server.client.getApp();
    expect(response.app.revoke_tokens_issued_before).toBeInstanceOf(Date);
    // node-sdk reads the nanoseconds into a float (Math.floor(n / 1e6)): it may land one millisecond early.
    expect(cutoff.getTime() - response.app.revoke_tokens_issued_before!.getTime()).toBeOneOf([0, 1]);
    // On the wire the instant is exact.
    const raw = await server.request('GET', '/api/v2/app');
    expect(/"revoke_tokens_issued_before":(\d{19})[,}]/.exec(raw.text)?.[1]).toBe(`${cutoff.getTime()}000000`);
  });

  it('refuses an invalid enforce_unique_usernames and unsupported settings with code 4, applying nothing', async () => {
    await expect(server.client.updateApp({ enforce_unique_usernames: 'bogus' as never, multi_tenant_enabled: true })).rejects.toMatchObject({
      code: 4,
      message: 'Stream error code 4: UpdateApp failed with error: "enforce_unique_usernames must be one of [no app team]"',
    });
    await expect(server.client.updateApp({ sqs_url: 'https://sqs.example.com/queue' } as never)).rejects.toMatchObject({
      code: 4,
      message: 'Stream error code 4: UpdateApp failed with error: "app setting "sqs_url" is not supported by this server"',
    });
    expect((await server.client.getApp()).app).toMatchObject({ enforce_unique_usernames: 'no', multi_tenant_enabled: false });
  });

  it('is server-side only', async () => {
    const get = await queryAsPath('GET', '/api/v2/app', tokenFor('alice', nowSeconds()));
    expect(get).toMatchObject({ status: 403, body: { code: 17, message: expect.stringMatching(/^GetApp failed with error: /) } });
  });

  it('applies a change on a database whose settings row was never created (buildApp without resolveCredentials)', async () => {
    await sql`DELETE FROM app_settings`.execute(server.database.db);
    await server.client.updateApp({ enforce_unique_usernames: 'app' });
    expect((await server.client.getApp()).app.enforce_unique_usernames).toBe('app');
    await sql`DELETE FROM app_settings`.execute(server.database.db);
    // Without the row, a user token is still checked against its user's state.
    await server.client.upsertUsers([{ id: 'rowless' }]);
    await server.client.deactivateUser({ user_id: 'rowless' });
    expect((await queryAs(tokenFor('rowless', nowSeconds()))).body).toMatchObject({ code: 5 });
    await server.client.reactivateUser({ user_id: 'rowless' });
    expect((await queryAs(tokenFor('rowless', nowSeconds()))).status).toBe(200);
  });
});

async function queryAsPath(method: string, path: string, token: string) {
  const response = await server.request(method, path, { headers: { authorization: token } });
  return { status: response.status, body: response.body };
}

describe('app-wide revocation (updateApp revoke_tokens_issued_before)', () => {
  it('refuses user tokens issued before the cut-off, or without iat, with 401 code 40; null clears it', async () => {
    const old = tokenFor('alice', nowSeconds() - 120);
    expect((await queryAs(old)).status).toBe(200);
    const cutoff = new Date();
    await server.client.updateApp({ revoke_tokens_issued_before: cutoff });

    const refused = await queryAs(old);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 40, StatusCode: 401, message: 'QueryUsers failed with error: "JWTAuth error: token has been revoked"' });
    expect((await queryAs(tokenFor('bob'))).body).toMatchObject({
      code: 40,
      message: 'QueryUsers failed with error: "JWTAuth error: tokens without an iat claim are not valid while tokens are revoked"',
    });
    await nextSecond(cutoff.getTime());
    expect((await queryAs(tokenFor('alice', nowSeconds()))).status).toBe(200);
    // Server-side auth is unaffected.
    expect((await server.client.queryUsers({ payload: { filter_conditions: {} } })).users.length).toBeGreaterThan(0);

    await server.client.updateApp({ revoke_tokens_issued_before: null } as never);
    expect((await server.client.getApp()).app.revoke_tokens_issued_before).toBeUndefined();
    expect((await queryAs(old)).status).toBe(200);
  });
});

describe("a user's revocation (updateUsersPartial set.revoke_tokens_issued_before)", () => {
  it("refuses that user's older tokens with code 40, shows the cut-off on the user, and unset clears it", async () => {
    const old = tokenFor('bob', nowSeconds() - 120);
    const cutoff = new Date();
    const response = await server.client.updateUsersPartial({ users: [{ id: 'bob', set: { revoke_tokens_issued_before: cutoff.toISOString() } }] });
    expect(response.users.bob!.revoke_tokens_issued_before).toBeInstanceOf(Date);
    expect(cutoff.getTime() - response.users.bob!.revoke_tokens_issued_before!.getTime()).toBeOneOf([0, 1]);

    expect((await queryAs(old)).body).toMatchObject({ code: 40 });
    // Other users' tokens are unaffected.
    expect((await queryAs(tokenFor('alice', nowSeconds() - 120))).status).toBe(200);
    await nextSecond(cutoff.getTime());
    expect((await queryAs(tokenFor('bob', nowSeconds()))).status).toBe(200);

    const cleared = await server.client.updateUsersPartial({ users: [{ id: 'bob', unset: ['revoke_tokens_issued_before'] }] });
    expect(cleared.users.bob!.revoke_tokens_issued_before).toBeUndefined();
    expect((await queryAs(old)).status).toBe(200);

    await server.client.updateUsersPartial({ users: [{ id: 'bob', set: { revoke_tokens_issued_before: cutoff.toISOString() } }] });
    await server.client.updateUsersPartial({ users: [{ id: 'bob', set: { revoke_tokens_issued_before: null } }] });
    expect((await queryAs(old)).status).toBe(200);
  });

  it('cannot be lifted with a revoked token', async () => {
    await server.client.updateUsersPartial({ users: [{ id: 'alice', set: { revoke_tokens_issued_before: new Date().toISOString() } }] });
    const old = tokenFor('alice', nowSeconds() - 120);
    // A revoked token cannot make the request that would clear its own revocation.
    const attempt = await server.request('PATCH', '/api/v2/users', {
      headers: { authorization: old },
      body: { users: [{ id: 'alice', set: { revoke_tokens_issued_before: null } }] },
    });
    expect(attempt.status).toBe(401);
    expect(attempt.body.code).toBe(40);
    await server.client.updateUsersPartial({ users: [{ id: 'alice', unset: ['revoke_tokens_issued_before'] }] });
  });
});
