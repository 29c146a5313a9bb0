// App settings and token revocation on the v1 paths, through stream-chat: getAppSettings, updateAppSettings,
// revokeTokens, revokeUserToken(s); unique usernames (and their race safety); guest creation switched off.
import type { StreamChat, UserResponse } from 'stream-chat';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.js';
import { API_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { RFC3339_MICROS, chatError, serverSideChat } from '../helpers/stream-chat.js';

let server: TestServer;
let chat: StreamChat;

beforeAll(async () => {
  server = await startTestServer({ worker: false });
  chat = serverSideChat(server);
});
afterEach(async () => {
  // Each test starts from the default settings.
  await chat.updateAppSettings({ revoke_tokens_issued_before: null, enforce_unique_usernames: 'no', guest_user_creation_disabled: false } as never);
});
afterAll(async () => {
  await server?.close();
});

const v1User = (user: Record<string, unknown> & { id: string }) => user as UserResponse;
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A raw client-side request (GET /users) with a user token; returns status and body. */
async function queryAs(token: string) {
  const response = await server.request('GET', '/users', { headers: { authorization: token } });
  return { status: response.status, body: response.body };
}

/** Waits until the clock is in a later second than `ms`, so that a token issued now has an iat after it. */
async function nextSecond(ms: number) {
  const wait = 1000 - (ms % 1000) + 5;
  await new Promise((resolve) => setTimeout(resolve, wait));
}

describe('getAppSettings / updateAppSettings (GET, PATCH /app)', () => {
  it('reads the settings this server honours, with RFC3339 date-times', async () => {
    const response = await chat.getAppSettings();
    expect(response.app).toEqual({
      name: API_KEY,
      guest_user_creation_disabled: false,
      enforce_unique_usernames: 'no',
      multi_tenant_enabled: false,
      webhook_url: '',
      webhook_events: [],
      event_hooks: [],
    });
    expect(typeof response.duration).toBe('string');

    await chat.updateAppSettings({ multi_tenant_enabled: true, revoke_tokens_issued_before: '2024-01-02T03:04:05.123456Z' } as never);
    const after = (await chat.getAppSettings()).app as Record<string, unknown>;
    expect(after).toMatchObject({ multi_tenant_enabled: true, revoke_tokens_issued_before: '2024-01-02T03:04:05.123456Z' });
    expect(after.revoke_tokens_issued_before).toMatch(RFC3339_MICROS);
    await chat.updateAppSettings({ multi_tenant_enabled: false });
  });

  it('answers 200 on the wire for both', async () => {
    expect((await server.request('GET', '/app')).status).toBe(200);
    const patch = await server.request('PATCH', '/app', { body: { guest_user_creation_disabled: false } });
    expect(patch.status).toBe(200);
    expect(Object.keys(patch.body)).toEqual(['duration']);
  });

  it('refuses an invalid enforce_unique_usernames and settings this server does not implement, with code 4', async () => {
    const bogus = await chatError(chat.updateAppSettings({ enforce_unique_usernames: 'bogus' } as never));
    expect(bogus).toMatchObject({ code: 4, status: 400, message: 'UpdateApp failed with error: "enforce_unique_usernames must be one of [no app team]"' });
    const unsupported = await chatError(chat.updateAppSettings({ sqs_url: 'https://sqs.example.com/queue' } as never));
    expect(unsupported).toMatchObject({ code: 4, message: 'UpdateApp failed with error: "app setting "sqs_url" is not supported by this server"' });
    const badDate = await chatError(chat.revokeTokens('yesterday'));
    expect(badDate).toMatchObject({ code: 4 });
    // Nothing of a refused request is applied.
    expect((await chat.getAppSettings()).app).toMatchObject({ enforce_unique_usernames: 'no' });
  });
});

describe('revokeUserToken / revokeUsersToken (PATCH /users)', () => {
  it('refuses a token issued before the cut-off (401 code 40) and accepts a fresh one', async () => {
    await chat.upsertUser(v1User({ id: 'revokee' }));
    const oldToken = chat.createToken('revokee', undefined, nowSeconds() - 120);
    expect((await queryAs(oldToken)).status).toBe(200);

    const response = await chat.revokeUserToken('revokee');
    const user = response.users.revokee as unknown as Record<string, unknown>;
    expect(user.revoke_tokens_issued_before).toMatch(RFC3339_MICROS);
    const cutoff = Date.parse(user.revoke_tokens_issued_before as string);

    const refused = await queryAs(oldToken);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 40, StatusCode: 401, message: 'QueryUsers failed with error: "JWTAuth error: token has been revoked"' });
    // A token without iat cannot be placed before or after the cut-off: refused too.
    expect((await queryAs(chat.createToken('revokee'))).body).toMatchObject({ code: 40 });

    await nextSecond(cutoff);
    expect((await queryAs(chat.createToken('revokee', undefined, nowSeconds()))).status).toBe(200);

    // null clears the cut-off: the old token works again.
    const cleared = await chat.revokeUserToken('revokee', null);
    expect(cleared.users.revokee).not.toHaveProperty('revoke_tokens_issued_before');
    expect((await queryAs(oldToken)).status).toBe(200);
  });

  it('revokes the tokens of several users at a given date', async () => {
    await chat.upsertUsers([v1User({ id: 'rv-a' }), v1User({ id: 'rv-b' }), v1User({ id: 'rv-c' })]);
    const before = new Date(Date.now() - 30_000);
    const response = await chat.revokeUsersToken(['rv-a', 'rv-b'], before);
    expect(Date.parse((response.users['rv-a'] as unknown as Record<string, string>).revoke_tokens_issued_before!)).toBe(before.getTime());

    const older = nowSeconds() - 60;
    const newer = nowSeconds() - 10;
    expect((await queryAs(chat.createToken('rv-a', undefined, older))).body).toMatchObject({ code: 40 });
    expect((await queryAs(chat.createToken('rv-b', undefined, older))).body).toMatchObject({ code: 40 });
    expect((await queryAs(chat.createToken('rv-a', undefined, newer))).status).toBe(200);
    expect((await queryAs(chat.createToken('rv-c', undefined, older))).status).toBe(200);
  });
});

describe('revokeTokens (PATCH /app)', () => {
  it("revokes every user's tokens issued before the cut-off, and null clears it", async () => {
    await chat.upsertUsers([v1User({ id: 'app-rv-a' }), v1User({ id: 'app-rv-b' })]);
    const oldA = chat.createToken('app-rv-a', undefined, nowSeconds() - 120);
    const oldB = chat.createToken('app-rv-b', undefined, nowSeconds() - 120);

    const cutoff = new Date();
    await chat.revokeTokens(cutoff);
    const app = (await chat.getAppSettings()).app as Record<string, unknown>;
    expect(Date.parse(app.revoke_tokens_issued_before as string)).toBe(cutoff.getTime());

    for (const token of [oldA, oldB]) {
      const refused = await queryAs(token);
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe(40);
    }
    await nextSecond(cutoff.getTime());
    expect((await queryAs(chat.createToken('app-rv-a', undefined, nowSeconds()))).status).toBe(200);
    // Server-side calls are never revoked.
    expect((await chat.queryUsers({ id: 'app-rv-a' })).users).toHaveLength(1);

    await chat.revokeTokens(null);
    expect((await chat.getAppSettings()).app).not.toHaveProperty('revoke_tokens_issued_before');
    expect((await queryAs(oldA)).status).toBe(200);
  });
});

describe('enforce_unique_usernames', () => {
  it('app: refuses a duplicate name on upsert and partial update with code 6', async () => {
    await chat.upsertUsers([v1User({ id: 'name-owner', name: 'Unique Name' }), v1User({ id: 'name-other', name: 'Other' })]);
    await chat.updateAppSettings({ enforce_unique_usernames: 'app' });
    expect((await chat.getAppSettings()).app).toMatchObject({ enforce_unique_usernames: 'app' });

    const upsert = await chatError(chat.upsertUser(v1User({ id: 'name-copier', name: 'Unique Name' })));
    expect(upsert).toMatchObject({ code: 6, status: 400, message: `UpdateUsers failed with error: "username 'Unique Name' already exists"` });
    const normalized = await chatError(chat.upsertUser(v1User({ id: 'name-copier', name: 'unique_name' })));
    expect(normalized).toMatchObject({ code: 6, message: `UpdateUsers failed with error: "username 'unique_name' already exists"` });
    const partial = await chatError(chat.partialUpdateUser({ id: 'name-other', set: { name: 'UNIQUE NAME' } }));
    expect(partial).toMatchObject({ code: 6, message: `UpdateUsersPartial failed with error: "username 'UNIQUE NAME' already exists"` });
    const found = await chat.queryUsers({ id: { $in: ['name-copier', 'name-other'] } }, { id: 1 });
    expect(found.users.map((u) => [u.id, u.name])).toEqual([['name-other', 'Other']]);

    // The owner itself may keep and re-send its name.
    expect((await chat.upsertUser(v1User({ id: 'name-owner', name: 'Unique Name', extra: 1 }))).users['name-owner']).toMatchObject({ extra: 1 });
  });

  it('app: a reactivated user whose name was taken meanwhile needs a new one (ReactivateUser code 6)', async () => {
    await chat.upsertUser(v1User({ id: 'sleepy', name: 'Sleepy' }));
    await chat.deactivateUser('sleepy');
    await chat.upsertUser(v1User({ id: 'usurper', name: 'Sleepy' }));
    await chat.updateAppSettings({ enforce_unique_usernames: 'app' });

    const taken = await chatError(chat.reactivateUser('sleepy'));
    expect(taken).toMatchObject({ code: 6, message: `ReactivateUser failed with error: "username 'Sleepy' already exists"` });
    const renamed = await chat.reactivateUser('sleepy', { name: 'Sleepy Again' });
    expect(renamed.user).toMatchObject({ id: 'sleepy', name: 'Sleepy Again' });
    expect(renamed.user).not.toHaveProperty('deactivated_at');
  });

  it('team: names are unique within a team only', async () => {
    await chat.upsertUser(v1User({ id: 'red-1', name: 'Teammate', teams: ['red'] }));
    await chat.updateAppSettings({ enforce_unique_usernames: 'team' });
    const clash = await chatError(chat.upsertUser(v1User({ id: 'red-2', name: 'Teammate', teams: ['red', 'blue'] })));
    expect(clash).toMatchObject({ code: 6, message: `UpdateUsers failed with error: "username 'Teammate' already exists in team 'red'"` });
    expect((await chat.upsertUser(v1User({ id: 'blue-1', name: 'Teammate', teams: ['blue'] }))).users['blue-1']).toMatchObject({ name: 'Teammate' });
  });

  it(`is race-safe: of 10 concurrent upserts of one new name exactly one succeeds${usingPostgres ? '' : ' (PGlite serializes them)'}`, async () => {
    await chat.updateAppSettings({ enforce_unique_usernames: 'app' });
    // Open the pool's connections first: otherwise their setup staggers the first requests and hides a race.
    await Promise.all(Array.from({ length: 10 }, () => chat.queryUsers({ id: 'warm-up' })));
    for (let round = 0; round < 3; round++) {
      const name = `Photo Finish ${round}`;
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => chat.upsertUser(v1User({ id: `racer-${round}-${i}`, name }))),
      );
      const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      expect(rejected, `round ${round}`).toHaveLength(9);
      for (const failure of rejected) {
        expect(failure.reason).toMatchObject({ code: 6, message: `StreamChat error code 6: UpdateUsers failed with error: "username '${name}' already exists"` });
      }
      expect((await chat.queryUsers({ name })).users).toHaveLength(1);
    }
  });

  it('no: duplicate names are allowed', async () => {
    await chat.upsertUsers([v1User({ id: 'dup-1', name: 'Same' }), v1User({ id: 'dup-2', name: 'Same' })]);
    expect((await chat.queryUsers({ name: 'Same' })).users).toHaveLength(2);
  });
});

describe('guest_user_creation_disabled', () => {
  it('refuses POST /guest with 403 code 17 while set', async () => {
    await chat.updateAppSettings({ guest_user_creation_disabled: true } as never);
    const raw = await server.request('POST', '/guest', { headers: { 'stream-auth-type': 'anonymous', authorization: '' }, body: { user: { id: 'nope' } } });
    expect(raw.status).toBe(403);
    expect(raw.body).toMatchObject({ code: 17, message: 'CreateGuest failed with error: "guest user creation is disabled for this app"' });
    await chat.updateAppSettings({ guest_user_creation_disabled: false } as never);
    const ok = await server.request('POST', '/guest', { headers: { 'stream-auth-type': 'anonymous', authorization: '' }, body: { user: { id: 'yes' } } });
    expect(ok.status).toBe(201);
  });
});
