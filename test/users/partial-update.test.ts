import type { UserRequest } from '@stream-io/node-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function getUser(id: string) {
  const response = await server.client.queryUsers({ payload: { filter_conditions: { id } } });
  expect(response.users).toHaveLength(1);
  return response.users[0]!;
}

describe('PATCH /api/v2/users (partial update)', () => {
  it('runs the seed snippet: sets a custom field and unsets name', async () => {
    const client = server.client;
    const user: UserRequest = {
      id: 'userid',
      role: 'user',
      custom: {
        color: 'blue',
      },
      name: 'This is a test user',
      image: 'link/to/profile/image',
    };
    await client.upsertUsers([user]);
    const response = await client.updateUsersPartial({
      users: [
        {
          id: user.id,
          set: {
            'new-field': 'value',
          },
          unset: ['name'],
        },
      ],
    });
    const updated = response.users.userid!;
    expect(updated.custom['new-field']).toBe('value');
    expect(updated.custom.color).toBe('blue');
    expect(updated.name).toBeUndefined();
    expect('name' in updated).toBe(false);
    expect(updated.image).toBe('link/to/profile/image');
    expect(updated.role).toBe('user');
    expect(updated.updated_at).toBeInstanceOf(Date);
    expect(response.membership_deletion_task_id).toBe('');
    expect(response.metadata.responseCode).toBe(200);

    // And it is stored, not just echoed.
    const stored = await getUser('userid');
    expect(stored.custom).toEqual({ color: 'blue', 'new-field': 'value' });
    expect(stored.name).toBeUndefined();
  });

  it('creates nested objects for dotted set paths and removes nested keys with dotted unset paths', async () => {
    await server.client.upsertUsers([{ id: 'dotted', custom: { fields: { subfield1: 1, subfield2: 2 }, keep: true } }]);
    const response = await server.client.updateUsersPartial({
      users: [{ id: 'dotted', set: { 'field2.subfield': 'x', 'deep.a.b.c': 3 }, unset: ['fields.subfield1'] }],
    });
    expect(response.users.dotted!.custom).toEqual({
      fields: { subfield2: 2 },
      field2: { subfield: 'x' },
      deep: { a: { b: { c: 3 } } },
      keep: true,
    });
    // A dotted path into an existing object keeps its siblings.
    const second = await server.client.updateUsersPartial({ users: [{ id: 'dotted', set: { 'field2.other': 'y' } }] });
    expect(second.users.dotted!.custom.field2).toEqual({ subfield: 'x', other: 'y' });
    // Setting an object replaces it.
    const third = await server.client.updateUsersPartial({ users: [{ id: 'dotted', set: { field2: { only: 1 } } }] });
    expect(third.users.dotted!.custom.field2).toEqual({ only: 1 });
    expect((await getUser('dotted')).custom).toEqual({ fields: { subfield2: 2 }, field2: { only: 1 }, deep: { a: { b: { c: 3 } } }, keep: true });
  });

  it('puts unknown top-level keys in custom, and sets built-in fields as built-ins', async () => {
    await server.client.upsertUsers([{ id: 'flat', custom: { a: 1 } }]);
    const response = await server.client.updateUsersPartial({
      users: [{ id: 'flat', set: { country: 'NL', name: 'Flat', image: 'img', language: 'nl', invisible: true, role: 'admin', teams: ['blue'] } }],
    });
    const user = response.users.flat!;
    expect(user.custom).toEqual({ a: 1, country: 'NL' });
    expect(user.name).toBe('Flat');
    expect(user.image).toBe('img');
    expect(user.language).toBe('nl');
    expect(user.invisible).toBe(true);
    expect(user.role).toBe('admin');
    expect(user.teams).toEqual(['blue']);
    expect(user).not.toHaveProperty('country');

    const unset = await server.client.updateUsersPartial({ users: [{ id: 'flat', unset: ['country', 'language', 'invisible'] }] });
    expect(unset.users.flat!.custom).toEqual({ a: 1 });
    expect(unset.users.flat!.language).toBe('');
    expect(unset.users.flat!.invisible).toBe(false);
  });

  it('deep-merges privacy_settings', async () => {
    await server.client.upsertUsers([
      { id: 'private', privacy_settings: { typing_indicators: { enabled: false }, read_receipts: { enabled: true } } },
    ]);
    const response = await server.client.updateUsersPartial({
      users: [{ id: 'private', set: { privacy_settings: { read_receipts: { enabled: false } } } }],
    });
    expect(response.users.private!.privacy_settings).toEqual({
      typing_indicators: { enabled: false },
      read_receipts: { enabled: false },
    });
    expect((await getUser('private')).privacy_settings).toEqual({
      typing_indicators: { enabled: false },
      read_receipts: { enabled: false },
    });
  });

  it.each([
    ['an unknown setting', { privacy_settings: { foo: { enabled: true } } }],
    ['a non-boolean enabled', { privacy_settings: { read_receipts: { enabled: 'yes' } } }],
    ['a setting without enabled', { privacy_settings: { read_receipts: {} } }],
    ['a scalar setting by path', { 'privacy_settings.typing_indicators': 5 }],
    ['a non-boolean enabled by path', { 'privacy_settings.typing_indicators.enabled': 'nope' }],
    ['an unknown setting by path', { 'privacy_settings.foo.enabled': true }],
  ])('rejects privacy_settings with %s (code 4), leaving the user intact and readable', async (_label, set) => {
    await server.client.upsertUsers([{ id: 'private-bad', privacy_settings: { typing_indicators: { enabled: true } } }]);
    const attempt = server.client.updateUsersPartial({ users: [{ id: 'private-bad', set }] });
    await expect(attempt).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
    expect((await getUser('private-bad')).privacy_settings).toEqual({ typing_indicators: { enabled: true } });
  });

  it('accepts a privacy setting by dotted path', async () => {
    await server.client.upsertUsers([{ id: 'private-path' }]);
    const response = await server.client.updateUsersPartial({ users: [{ id: 'private-path', set: { 'privacy_settings.read_receipts.enabled': false } }] });
    expect(response.users['private-path']!.privacy_settings).toEqual({ read_receipts: { enabled: false } });
  });

  it('rejects a teams_role entry that is not a role string (code 4), leaving the user intact', async () => {
    await server.client.upsertUsers([{ id: 'teamer-bad', teams: ['red'], teams_role: { red: 'member' } }]);
    for (const set of [{ 'teams_role.red.x': 'admin' }, { 'teams_role.red': 1 }, { teams_role: { red: ['admin'] } }]) {
      await expect(server.client.updateUsersPartial({ users: [{ id: 'teamer-bad', set }] })).rejects.toMatchObject({ code: 4 });
    }
    expect((await getUser('teamer-bad')).teams_role).toEqual({ red: 'member' });
  });

  it('treats keys named like Object.prototype members as custom fields', async () => {
    await server.client.upsertUsers([{ id: 'protoish' }]);
    const response = await server.client.updateUsersPartial({
      users: [{ id: 'protoish', set: { constructor: 1, toString: 'x', hasOwnProperty: true, valueOf: null } }],
    });
    expect(response.users.protoish!.custom).toEqual({ constructor: 1, toString: 'x', hasOwnProperty: true, valueOf: null });
    const raw = await server.request('PATCH', '/api/v2/users', { rawBody: '{"users":[{"id":"protoish","set":{"__proto__":{"x":1}}}]}' });
    expect(raw.status, raw.text).toBe(200);
    expect(raw.text).toContain('"__proto__":{"x":1}');
    const unset = await server.client.updateUsersPartial({ users: [{ id: 'protoish', unset: ['constructor', 'toString', '__proto__'] }] });
    expect(unset.users.protoish!.custom).toEqual({ hasOwnProperty: true, valueOf: null });
  });

  it('sets and unsets a teams_role entry by dotted path', async () => {
    await server.client.upsertUsers([{ id: 'teamer', teams: ['red', 'blue'], teams_role: { blue: 'member' } }]);
    const response = await server.client.updateUsersPartial({ users: [{ id: 'teamer', set: { 'teams_role.red': 'admin' } }] });
    expect(response.users.teamer!.teams_role).toEqual({ blue: 'member', red: 'admin' });
    expect(response.users.teamer!.custom).toEqual({});
    const unset = await server.client.updateUsersPartial({ users: [{ id: 'teamer', unset: ['teams_role.blue'] }] });
    expect(unset.users.teamer!.teams_role).toEqual({ red: 'admin' });
  });

  it.each(['a..b', 'a b', '.a', 'a.', 'tab\there'])('rejects the invalid key %j with code 4, in set and in unset', async (key) => {
    await server.client.upsertUsers([{ id: 'keys', custom: { untouched: true } }]);
    const viaSet = server.client.updateUsersPartial({ users: [{ id: 'keys', set: { [key]: 1 } }] });
    await expect(viaSet).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
    await expect(viaSet).rejects.toThrow(/UpdateUsersPartial failed with error: "/);
    const viaUnset = server.client.updateUsersPartial({ users: [{ id: 'keys', unset: [key] }] });
    await expect(viaUnset).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
    expect((await getUser('keys')).custom).toEqual({ untouched: true });
  });

  it('answers 404 code 16 for a user that does not exist', async () => {
    const attempt = server.client.updateUsersPartial({ users: [{ id: 'nobody-here', set: { a: 1 } }] });
    await expect(attempt).rejects.toMatchObject({ code: 16, metadata: { responseCode: 404 } });
    await expect(attempt).rejects.toThrow('Stream error code 16: UpdateUsersPartial failed with error: "');

    const raw = await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'nobody-here', set: { a: 1 } }] } });
    expect(raw.status).toBe(404);
    expect(raw.body.code).toBe(16);
    expect(raw.body.StatusCode).toBe(404);
    expect(raw.body.message).toMatch(/^UpdateUsersPartial failed with error: ".*nobody-here.*"$/);
  });

  it('writes nothing of a batch when one of its users does not exist', async () => {
    await server.client.upsertUsers([{ id: 'batch-ok', custom: {} }]);
    await expect(
      server.client.updateUsersPartial({
        users: [
          { id: 'batch-ok', set: { touched: true } },
          { id: 'batch-missing', set: { touched: true } },
        ],
      }),
    ).rejects.toMatchObject({ code: 16 });
    expect((await getUser('batch-ok')).custom).toEqual({});
  });

  it('rejects a result over 5 KB with code 4 and changes nothing', async () => {
    await server.client.upsertUsers([{ id: 'sizer', name: 'Sizer', custom: { a: 'x'.repeat(3000) } }]);
    const before = await getUser('sizer');
    // Each value alone is fine; together with what is stored the user grows past 5 KB.
    const attempt = server.client.updateUsersPartial({ users: [{ id: 'sizer', set: { b: 'y'.repeat(2500) }, unset: ['name'] }] });
    await expect(attempt).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
    await expect(attempt).rejects.toThrow(/UpdateUsersPartial failed with error: ".*too large/);
    const after = await getUser('sizer');
    expect(after.custom).toEqual({ a: 'x'.repeat(3000) });
    expect(after.name).toBe('Sizer');
    expect(after.updated_at.getTime()).toBe(before.updated_at.getTime());

    // A smaller addition still fits.
    const ok = await server.client.updateUsersPartial({ users: [{ id: 'sizer', set: { b: 'y'.repeat(1000) } }] });
    expect(ok.users.sizer!.custom.b).toHaveLength(1000);
  });

  it('sets revoke_tokens_issued_before from an RFC3339 string and clears it with null', async () => {
    await server.client.upsertUsers([{ id: 'revoker' }]);
    const response = await server.client.updateUsersPartial({
      users: [{ id: 'revoker', set: { revoke_tokens_issued_before: '2024-01-01T00:00:00.000Z' } }],
    });
    const user = response.users.revoker!;
    expect(user.revoke_tokens_issued_before).toBeInstanceOf(Date);
    expect(user.revoke_tokens_issued_before!.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(user.custom).toEqual({});

    const raw = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: { id: 'revoker' } }) } });
    expect(raw.text).toContain('"revoke_tokens_issued_before":1704067200000000000');

    const cleared = await server.client.updateUsersPartial({ users: [{ id: 'revoker', set: { revoke_tokens_issued_before: null } }] });
    expect(cleared.users.revoker!.revoke_tokens_issued_before).toBeUndefined();
    expect('revoke_tokens_issued_before' in (await getUser('revoker'))).toBe(false);

    for (const bad of ['yesterday', '2024-02-30T00:00:00Z', 1e300, true, {}]) {
      await expect(
        server.client.updateUsersPartial({ users: [{ id: 'revoker', set: { revoke_tokens_issued_before: bad } }] }),
      ).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
    }
    expect('revoke_tokens_issued_before' in (await getUser('revoker'))).toBe(false);
  });

  it('rejects reserved server-kept fields', async () => {
    await server.client.upsertUsers([{ id: 'reserved' }]);
    for (const key of ['created_at', 'deactivated_at', 'banned', 'blocked_user_ids']) {
      await expect(server.client.updateUsersPartial({ users: [{ id: 'reserved', set: { [key]: 'x' } }] })).rejects.toMatchObject({ code: 4 });
    }
  });

  // Meaningful on PostgreSQL (DATABASE_URL), where the 20 requests run on separate connections: a read-modify-write
  // of `custom` in JavaScript loses updates there (checked by mutation). The embedded PGlite has one connection and
  // runs the transactions one after another, so there only a write outside the request's transaction could fail it.
  it('keeps every change of 20 concurrent updates of different fields of one user', async () => {
    await server.client.upsertUsers([{ id: 'concurrent', custom: { base: true } }]);
    const fields = Array.from({ length: 20 }, (_, i) => `field_${i}`);
    const results = await Promise.all(
      fields.map((field, i) => server.client.updateUsersPartial({ users: [{ id: 'concurrent', set: { [field]: i } }] })),
    );
    expect(results).toHaveLength(20);
    const user = await getUser('concurrent');
    const expected: Record<string, unknown> = { base: true };
    fields.forEach((field, i) => (expected[field] = i));
    expect(user.custom).toEqual(expected);
  });

  it('keeps every change of concurrent nested updates of one object', async () => {
    await server.client.upsertUsers([{ id: 'concurrent-nested', custom: {} }]);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        server.client.updateUsersPartial({ users: [{ id: 'concurrent-nested', set: { [`settings.k${i}`]: i } }] }),
      ),
    );
    const user = await getUser('concurrent-nested');
    expect(Object.keys(user.custom.settings as object).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
  });
});
