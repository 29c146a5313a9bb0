import type { QueryUsersPayload, SortParamRequest } from '@stream-io/node-sdk';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const AUTOCOMPLETE_MESSAGE =
  'QueryUsers failed with error: "$autocomplete field is empty or contains invalid characters. Please provide a valid string to autocomplete"';

let server: TestServer;

// The five visible users, with fixed creation dates so that date filters and the default sort are exact.
const CREATED: Record<string, string> = {
  alice: '2024-01-01T00:00:00.000Z',
  bob: '2024-02-01T00:00:00.000Z',
  carol: '2024-03-01T00:00:00.000Z',
  dave: '2024-04-01T00:00:00.000Z',
  erin: '2024-05-01T00:00:00.000Z',
  frank: '2024-06-01T00:00:00.000Z',
  gina: '2024-07-01T00:00:00.000Z',
};

beforeAll(async () => {
  server = await startTestServer();
  await server.client.upsertUsers([
    {
      id: 'alice',
      name: 'Alice Smith',
      role: 'admin',
      teams: ['red'],
      language: 'en',
      custom: {
        color: 'red', age: 30, score: 9, tags: ['a', 'b'], username: 'alice_s', email: 'alice@example.com', nested: { level: 1 },
      },
    },
    { id: 'bob', name: 'Bob Jones', role: 'user', teams: ['red', 'blue'], language: 'nl', custom: { color: 'blue', age: 25, score: 10, tags: ['b'], email: 'bob@example.com' } },
    { id: 'carol', name: 'Carol Rover', role: 'moderator', teams: ['blue'], custom: { color: 'green', age: 35, score: 100, tags: [], nested: { level: 2 } } },
    { id: 'dave', name: 'Curiosity Rover', role: 'user', custom: { color: 'red', age: '40', score: 25 } },
    { id: 'erin', role: 'guest' },
    // frank is deactivated and gina deleted below; both would otherwise match {color: 'red'} and {role: 'user'}.
    { id: 'frank', name: 'Frank Red', role: 'user', custom: { color: 'red' } },
    { id: 'gina', name: 'Gina Red', role: 'user', custom: { color: 'red' } },
  ]);
  const db = server.database.db;
  for (const [id, createdAt] of Object.entries(CREATED)) {
    await db.updateTable('users').set({ created_at: createdAt }).where('id', '=', id).execute();
  }
  await db.updateTable('users').set({ last_active: '2024-06-15T12:00:00.000Z' }).where('id', '=', 'alice').execute();
  await db.updateTable('users').set({ last_active: '2024-06-20T12:00:00.000Z' }).where('id', '=', 'bob').execute();
  await db.updateTable('users').set({ banned: true }).where('id', '=', 'bob').execute();
  // The deactivate and delete endpoints come later; set the columns directly for now.
  await db.updateTable('users').set({ deactivated_at: '2024-08-01T00:00:00.000Z' }).where('id', '=', 'frank').execute();
  await db.updateTable('users').set({ deleted_at: '2024-08-01T00:00:00.000Z' }).where('id', '=', 'gina').execute();
});
afterAll(async () => {
  await server?.close();
});

/** Ids matched by a filter, in id order (sort by id through the API, so the server's order is checked too). */
async function ids(filter_conditions: Record<string, unknown>, extra: Partial<QueryUsersPayload> = {}): Promise<string[]> {
  const response = await server.client.queryUsers({
    payload: { filter_conditions, sort: [{ field: 'id', direction: 1 }], ...extra },
  });
  return response.users.map((user) => user.id);
}

async function sorted(sort: SortParamRequest[], filter_conditions: Record<string, unknown> = {}): Promise<string[]> {
  const response = await server.client.queryUsers({ payload: { filter_conditions, sort } });
  return response.users.map((user) => user.id);
}

async function expectInputError(filter_conditions: Record<string, unknown>, message?: string | RegExp) {
  const attempt = server.client.queryUsers({ payload: { filter_conditions } });
  await expect(attempt).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
  await expect(attempt).rejects.toThrow(message ?? /QueryUsers failed with error: "/);
}

describe('GET /api/v2/users: operators on built-in fields', () => {
  it('$eq, bare and explicit', async () => {
    expect(await ids({ id: 'alice' })).toEqual(['alice']);
    expect(await ids({ id: { $eq: 'bob' } })).toEqual(['bob']);
    expect(await ids({ name: 'Bob Jones' })).toEqual(['bob']);
    expect(await ids({ role: { $eq: 'user' } })).toEqual(['bob', 'dave']);
    expect(await ids({ language: 'nl' })).toEqual(['bob']);
    expect(await ids({ banned: true })).toEqual(['bob']);
    expect(await ids({ banned: { $eq: false } })).toEqual(['alice', 'carol', 'dave', 'erin']);
    expect(await ids({ shadow_banned: true })).toEqual([]);
    expect(await ids({ created_at: '2024-03-01T00:00:00.000Z' })).toEqual(['carol']);
    expect(await ids({ created_at: { $eq: '2024-03-01T00:00:00Z' } })).toEqual(['carol']);
    expect(await ids({ id: 'nobody' })).toEqual([]);
  });

  it('$ne', async () => {
    expect(await ids({ id: { $ne: 'alice' } })).toEqual(['bob', 'carol', 'dave', 'erin']);
    expect(await ids({ banned: { $ne: true } })).toEqual(['alice', 'carol', 'dave', 'erin']);
  });

  it('$in and $nin', async () => {
    expect(await ids({ id: { $in: ['alice', 'carol', 'nobody'] } })).toEqual(['alice', 'carol']);
    expect(await ids({ role: { $in: ['admin', 'moderator'] } })).toEqual(['alice', 'carol']);
    expect(await ids({ name: { $in: ['Bob Jones', 'Curiosity Rover'] } })).toEqual(['bob', 'dave']);
    expect(await ids({ created_at: { $in: ['2024-01-01T00:00:00.000Z', '2024-05-01T00:00:00Z'] } })).toEqual(['alice', 'erin']);
    expect(await ids({ id: { $nin: ['alice', 'bob'] } })).toEqual(['carol', 'dave', 'erin']);
  });

  it('$gt $gte $lt $lte on text columns', async () => {
    expect(await ids({ id: { $gt: 'bob' } })).toEqual(['carol', 'dave', 'erin']);
    expect(await ids({ id: { $gte: 'bob', $lt: 'dave' } })).toEqual(['bob', 'carol']);
    expect(await ids({ id: { $lte: 'bob' } })).toEqual(['alice', 'bob']);
    // erin has no name: NULL never compares.
    expect(await ids({ name: { $lt: 'Bob' } })).toEqual(['alice']);
    expect(await ids({ name: { $gte: 'Carol' } })).toEqual(['carol', 'dave']);
    expect(await ids({ role: { $gt: 'guest' } })).toEqual(['bob', 'carol', 'dave']);
    expect(await ids({ role: { $lte: 'guest' } })).toEqual(['alice', 'erin']);
  });

  it('$gt $gte $lt $lte on dates given as RFC3339 strings', async () => {
    expect(await ids({ created_at: { $gt: '2024-02-15T00:00:00Z' } })).toEqual(['carol', 'dave', 'erin']);
    expect(await ids({ created_at: { $gte: '2024-02-01T00:00:00.000Z' } })).toEqual(['bob', 'carol', 'dave', 'erin']);
    expect(await ids({ created_at: { $lt: '2024-02-01T00:00:00.000Z' } })).toEqual(['alice']);
    expect(await ids({ created_at: { $lte: '2024-02-01T00:00:00.000Z' } })).toEqual(['alice', 'bob']);
    expect(await ids({ created_at: { $gt: '2024-01-15T00:00:00+02:00', $lt: '2024-04-01T00:00:00Z' } })).toEqual(['bob', 'carol']);
    expect(await ids({ created_at: { $lt: '2024-02-29T23:59:59Z' } })).toEqual(['alice', 'bob']);
    expect(await ids({ updated_at: { $gt: '2020-01-01T00:00:00Z' } })).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(await ids({ updated_at: { $lt: '2020-01-01T00:00:00Z' } })).toEqual([]);
    expect(await ids({ last_active: { $gte: '2024-06-20T12:00:00Z' } })).toEqual(['bob']);
    expect(await ids({ last_active: { $lt: '2024-06-20T00:00:00Z' } })).toEqual(['alice']);
  });

  it('$exists', async () => {
    expect(await ids({ name: { $exists: false } })).toEqual(['erin']);
    expect(await ids({ name: { $exists: true } })).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(await ids({ last_active: { $exists: true } })).toEqual(['alice', 'bob']);
    expect(await ids({ last_active: { $exists: false } })).toEqual(['carol', 'dave', 'erin']);
    expect(await ids({ id: { $exists: true } })).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(await ids({ role: { $exists: false } })).toEqual([]);
  });

  it('$autocomplete: case-insensitive word prefixes on name, username and id', async () => {
    expect(await ids({ name: { $autocomplete: 'ro' } })).toEqual(['carol', 'dave']);
    expect(await ids({ name: { $autocomplete: 'RO' } })).toEqual(['carol', 'dave']);
    expect(await ids({ name: { $autocomplete: 'ali' } })).toEqual(['alice']);
    expect(await ids({ name: { $autocomplete: 'curiosity ro' } })).toEqual(['dave']);
    expect(await ids({ name: { $autocomplete: 'over' } })).toEqual([]);
    expect(await ids({ username: { $autocomplete: 'ali' } })).toEqual(['alice']);
    expect(await ids({ username: 'alice_s' })).toEqual(['alice']);
    expect(await ids({ id: { $autocomplete: 'ca' } })).toEqual(['carol']);
  });

  it('teams: $eq, $contains, $in and null', async () => {
    expect(await ids({ teams: 'blue' })).toEqual(['bob', 'carol']);
    expect(await ids({ teams: { $eq: 'red' } })).toEqual(['alice', 'bob']);
    expect(await ids({ teams: { $contains: 'red' } })).toEqual(['alice', 'bob']);
    expect(await ids({ teams: { $in: ['blue', 'green'] } })).toEqual(['bob', 'carol']);
    expect(await ids({ teams: { $in: ['red', null] } })).toEqual(['alice', 'bob', 'dave', 'erin']);
    expect(await ids({ teams: null })).toEqual(['dave', 'erin']);
    await expectInputError({ teams: '' });
  });

  it('email: $eq and $in', async () => {
    expect(await ids({ email: 'alice@example.com' })).toEqual(['alice']);
    expect(await ids({ email: { $in: ['bob@example.com', 'x@example.com'] } })).toEqual(['bob']);
  });
});

describe('GET /api/v2/users: operators on custom fields (bare names)', () => {
  it('$eq on strings, numbers and nested paths', async () => {
    expect(await ids({ color: 'red' })).toEqual(['alice', 'dave']);
    expect(await ids({ color: { $eq: 'green' } })).toEqual(['carol']);
    expect(await ids({ age: 30 })).toEqual(['alice']);
    // A number and a numeric string are different values.
    expect(await ids({ age: '40' })).toEqual(['dave']);
    expect(await ids({ age: 40 })).toEqual([]);
    expect(await ids({ 'nested.level': 2 })).toEqual(['carol']);
    expect(await ids({ nested: { level: 1 } })).toEqual(['alice']);
  });

  it('$ne and $nin (accepted for custom fields; a missing field is not equal)', async () => {
    expect(await ids({ color: { $ne: 'red' } })).toEqual(['bob', 'carol', 'erin']);
    expect(await ids({ color: { $nin: ['red', 'blue'] } })).toEqual(['carol', 'erin']);
  });

  it('$in', async () => {
    expect(await ids({ color: { $in: ['blue', 'green'] } })).toEqual(['bob', 'carol']);
    expect(await ids({ age: { $in: [25, 35, '40'] } })).toEqual(['bob', 'carol', 'dave']);
  });

  it('$gt $gte $lt $lte compare within one JSON type', async () => {
    expect(await ids({ age: { $gt: 25 } })).toEqual(['alice', 'carol']);
    expect(await ids({ age: { $gte: 25 } })).toEqual(['alice', 'bob', 'carol']);
    expect(await ids({ age: { $lt: 30 } })).toEqual(['bob']);
    expect(await ids({ age: { $lte: 30 } })).toEqual(['alice', 'bob']);
    expect(await ids({ age: { $gte: '3' } })).toEqual(['dave']);
    expect(await ids({ color: { $gt: 'green' } })).toEqual(['alice', 'dave']);
    expect(await ids({ score: { $gt: 9, $lt: 100 } })).toEqual(['bob', 'dave']);
  });

  it('$exists', async () => {
    expect(await ids({ color: { $exists: true } })).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(await ids({ color: { $exists: false } })).toEqual(['erin']);
    expect(await ids({ 'nested.level': { $exists: true } })).toEqual(['alice', 'carol']);
  });

  it('$contains on an array field', async () => {
    expect(await ids({ tags: { $contains: 'b' } })).toEqual(['alice', 'bob']);
    expect(await ids({ tags: { $contains: 'a' } })).toEqual(['alice']);
    expect(await ids({ tags: { $contains: 'z' } })).toEqual([]);
  });

  it('never lets a field name reach the SQL text', async () => {
    expect(await ids({ "color'; DROP TABLE users; --": 'x' })).toEqual([]);
    expect(await ids({ 'a") OR true --': { $exists: true } })).toEqual([]);
    expect(await ids({ id: 'alice' })).toEqual(['alice']);
  });
});

describe('GET /api/v2/users: logical operators', () => {
  it('$and', async () => {
    expect(await ids({ $and: [{ role: 'user' }, { color: 'red' }] })).toEqual(['dave']);
    expect(await ids({ $and: [{ role: 'user' }] })).toEqual(['bob', 'dave']);
  });

  it('$or', async () => {
    expect(await ids({ $or: [{ id: 'alice' }, { color: 'green' }] })).toEqual(['alice', 'carol']);
    expect(await ids({ $or: [{ id: 'alice' }, { $and: [{ role: 'user' }, { banned: true }] }] })).toEqual(['alice', 'bob']);
  });

  it('$nor', async () => {
    expect(await ids({ $nor: [{ role: 'user' }, { id: 'alice' }] })).toEqual(['carol', 'erin']);
    // erin's NULL name must count as "not matched".
    expect(await ids({ $nor: [{ name: { $gt: 'B' } }] })).toEqual(['alice', 'erin']);
  });

  it('ANDs sibling fields and combines logical operators with fields', async () => {
    expect(await ids({ role: 'user', language: 'nl' })).toEqual(['bob']);
    expect(await ids({ teams: { $contains: 'red' }, $or: [{ role: 'admin' }, { color: 'blue' }] })).toEqual(['alice', 'bob']);
  });
});

describe('GET /api/v2/users: rejected filters', () => {
  it('rejects a field/operator pair outside §4 with code 4', async () => {
    await expectInputError({ language: { $gt: 'a' } }, /operator \$gt is not allowed for field language/);
    await expectInputError({ banned: { $in: [true] } });
    await expectInputError({ teams: { $gt: 'a' } });
    await expectInputError({ name: { $ne: 'x' } });
    await expectInputError({ role: { $autocomplete: 'adm' } });
    await expectInputError({ email: { $autocomplete: 'ali' } });
    await expectInputError({ created_at: { $autocomplete: '2024' } });
    await expectInputError({ color: { $autocomplete: 're' } });
  });

  it('rejects unknown operators, $q and invalid operands', async () => {
    await expectInputError({ color: { $regex: '.*' } });
    await expectInputError({ name: { $q: 'x' } }, 'QueryUsers failed with error: "search is not enabled for field users.name"');
    await expectInputError({ $xor: [{ id: 'a' }] });
    await expectInputError({ created_at: { $gt: 'yesterday' } });
    // Dates the calendar or a Date does not have (JavaScript alone would roll Feb 31 over into March).
    await expectInputError({ created_at: { $gt: '2024-02-31T00:00:00Z' } });
    await expectInputError({ created_at: { $lt: '2023-02-29T00:00:00Z' } });
    await expectInputError({ created_at: { $gt: 1e30 } });
    await expectInputError({ last_active: { $in: ['2024-13-01T00:00:00Z'] } });
    await expectInputError({ id: { $in: 'alice' } });
    await expectInputError({ banned: 'yes' });
    await expectInputError({ $or: {} });
  });

  it.each(['%%', '', '  ', '***'])('rejects $autocomplete %j with the exact Stream message', async (value) => {
    for (const field of ['name', 'id', 'username']) {
      const attempt = server.client.queryUsers({ payload: { filter_conditions: { [field]: { $autocomplete: value } } } });
      await expect(attempt).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
      await expect(attempt).rejects.toThrow(`Stream error code 4: ${AUTOCOMPLETE_MESSAGE}`);
    }
    const raw = await server.request('GET', '/api/v2/users', {
      query: { payload: JSON.stringify({ filter_conditions: { name: { $autocomplete: value } } }) },
    });
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({ code: 4, StatusCode: 400, message: AUTOCOMPLETE_MESSAGE });
  });

  it('rejects a payload that is not JSON', async () => {
    const raw = await server.request('GET', '/api/v2/users', { query: { payload: '{not json' } });
    expect(raw.status).toBe(400);
    expect(raw.body.code).toBe(4);
    expect(raw.body.message).toMatch(/^QueryUsers failed with error: "/);
  });
});

describe('GET /api/v2/users: sorting', () => {
  it('defaults to created_at descending', async () => {
    expect(await sorted([])).toEqual(['erin', 'dave', 'carol', 'bob', 'alice']);
    const response = await server.client.queryUsers({ payload: { filter_conditions: {} } });
    expect(response.users.map((u) => u.id)).toEqual(['erin', 'dave', 'carol', 'bob', 'alice']);
  });

  it('sorts by built-in fields in either direction', async () => {
    expect(await sorted([{ field: 'id', direction: -1 }])).toEqual(['erin', 'dave', 'carol', 'bob', 'alice']);
    expect(await sorted([{ field: 'created_at', direction: 1 }])).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
    // NULL names last.
    expect(await sorted([{ field: 'name', direction: 1 }])).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(await sorted([{ field: 'name', direction: -1 }])).toEqual(['dave', 'carol', 'bob', 'alice', 'erin']);
    expect(await sorted([{ field: 'last_active', direction: -1 }], { last_active: { $exists: true } })).toEqual(['bob', 'alice']);
  });

  it('uses later entries to break ties', async () => {
    expect(await sorted([{ field: 'role', direction: 1 }, { field: 'created_at', direction: -1 }])).toEqual([
      'alice', 'erin', 'carol', 'dave', 'bob',
    ]);
    expect(await sorted([{ field: 'role', direction: 1 }, { field: 'created_at', direction: 1 }])).toEqual([
      'alice', 'erin', 'carol', 'bob', 'dave',
    ]);
  });

  it('sorts a custom field as text by default and as a number with type "number"', async () => {
    const filter = { score: { $exists: true } };
    expect(await sorted([{ field: 'score', direction: 1 }], filter)).toEqual(['bob', 'carol', 'dave', 'alice']);
    expect(await sorted([{ field: 'score', direction: 1, type: 'number' }], filter)).toEqual(['alice', 'bob', 'dave', 'carol']);
    expect(await sorted([{ field: 'score', direction: -1, type: 'number' }], filter)).toEqual(['carol', 'dave', 'bob', 'alice']);
    // Users without the field come last.
    expect(await sorted([{ field: 'score', direction: 1, type: 'number' }])).toEqual(['alice', 'bob', 'dave', 'carol', 'erin']);
  });

  it('accepts 5 sort entries and rejects 6 with code 4', async () => {
    const five = ['role', 'name', 'created_at', 'color', 'id'].map((field) => ({ field, direction: 1 }));
    expect(await sorted(five)).toEqual(['alice', 'erin', 'carol', 'bob', 'dave']);
    const six = [...five, { field: 'updated_at', direction: 1 }];
    await expect(server.client.queryUsers({ payload: { filter_conditions: {}, sort: six } })).rejects.toMatchObject({ code: 4 });
  });

  it('rejects an invalid direction or type with code 4', async () => {
    await expect(server.client.queryUsers({ payload: { filter_conditions: {}, sort: [{ field: 'id', direction: 2 }] } })).rejects.toMatchObject({ code: 4 });
    await expect(
      server.client.queryUsers({ payload: { filter_conditions: {}, sort: [{ field: 'score', direction: 1, type: 'date' }] } }),
    ).rejects.toMatchObject({ code: 4 });
  });
});

describe('GET /api/v2/users: deactivated and deleted users', () => {
  it('excludes deactivated users unless include_deactivated_users, and never returns deleted users', async () => {
    expect(await ids({ color: 'red' })).toEqual(['alice', 'dave']);
    expect(await ids({ color: 'red' }, { include_deactivated_users: true })).toEqual(['alice', 'dave', 'frank']);
    expect(await ids({ id: 'frank' })).toEqual([]);
    expect(await ids({ id: 'gina' })).toEqual([]);
    expect(await ids({ id: 'gina' }, { include_deactivated_users: true })).toEqual([]);
    expect(await ids({ role: 'user' }, { include_deactivated_users: false })).toEqual(['bob', 'dave']);
    expect(await ids({}, { include_deactivated_users: true })).toEqual(['alice', 'bob', 'carol', 'dave', 'erin', 'frank']);
  });

  it('returns deactivated_at for deactivated users', async () => {
    const response = await server.client.queryUsers({ payload: { filter_conditions: { id: 'frank' }, include_deactivated_users: true } });
    expect(response.users[0]!.deactivated_at).toBeInstanceOf(Date);
    expect(response.users[0]!.deactivated_at!.toISOString()).toBe('2024-08-01T00:00:00.000Z');
  });
});

describe('GET /api/v2/users: decoding and the bare request', () => {
  it('returns FullUserResponse objects whose dates the SDK decodes into Dates', async () => {
    const response = await server.client.queryUsers({ payload: { filter_conditions: { id: 'alice' } } });
    const alice = response.users[0]!;
    expect(alice.created_at).toBeInstanceOf(Date);
    expect(alice.created_at.toISOString()).toBe(CREATED.alice);
    expect(alice.updated_at).toBeInstanceOf(Date);
    expect(Math.abs(alice.updated_at.getTime() - Date.now())).toBeLessThan(120_000);
    expect(alice.last_active).toBeInstanceOf(Date);
    expect(alice.last_active!.toISOString()).toBe('2024-06-15T12:00:00.000Z');
    expect(alice).toMatchObject({
      id: 'alice', name: 'Alice Smith', role: 'admin', teams: ['red'], language: 'en',
      banned: false, online: false, invisible: false, shadow_banned: false, blocked_user_ids: [],
      devices: [], mutes: [], channel_mutes: [], unread_count: 0, total_unread_count: 0, unread_channels: 0, unread_threads: 0,
    });
    expect(alice.custom.color).toBe('red');
    expect(alice).not.toHaveProperty('deactivated_at');
    expect(alice).not.toHaveProperty('deleted_at');
    expect(typeof response.duration).toBe('string');

    const raw = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: { id: 'alice' } }) } });
    expect(raw.text).toContain('"created_at":1704067200000000000');
    expect(raw.text).toContain('"last_active":1718452800000000000');
  });

  it('answers queryUsers() with no payload (SDK and raw HTTP)', async () => {
    const response = await server.client.queryUsers();
    expect(response.users.map((u) => u.id)).toEqual(['erin', 'dave', 'carol', 'bob', 'alice']);
    const raw = await server.request('GET', '/api/v2/users');
    expect(raw.status).toBe(200);
    expect(raw.body.users).toHaveLength(5);
    expect(typeof raw.body.duration).toBe('string');
    const noFilter = await server.request('GET', '/api/v2/users', { query: { payload: '{}' } });
    expect(noFilter.status).toBe(200);
    expect(noFilter.body.users).toHaveLength(5);
  });
});

// Runs last: it adds 35 users, which the expectations above do not account for.
describe('GET /api/v2/users: limit and offset', () => {
  beforeAll(async () => {
    await server.client.upsertUsers(Array.from({ length: 35 }, (_, i) => ({ id: `bulk-${String(i).padStart(2, '0')}`, custom: { bulk: true } })));
  });

  it('defaults to 30, and treats 0 as the default', async () => {
    expect((await server.client.queryUsers()).users).toHaveLength(30);
    expect((await server.client.queryUsers({ payload: { filter_conditions: {} } })).users).toHaveLength(30);
    expect((await server.client.queryUsers({ payload: { filter_conditions: {}, limit: 0 } })).users).toHaveLength(30);
    expect((await server.client.queryUsers({ payload: { filter_conditions: {}, limit: 100 } })).users).toHaveLength(40);
    expect((await server.client.queryUsers({ payload: { filter_conditions: { bulk: true }, limit: 7 } })).users).toHaveLength(7);
  });

  it('pages with offset', async () => {
    const all = await ids({ bulk: true }, { limit: 100 });
    expect(all).toHaveLength(35);
    const page = await ids({ bulk: true }, { limit: 10, offset: 30 });
    expect(page).toEqual(all.slice(30));
    expect(await ids({ bulk: true }, { limit: 10, offset: 1000 })).toEqual([]);
  });

  it.each([
    [{ limit: 101 }],
    [{ limit: -1 }],
    [{ offset: 1001 }],
    [{ offset: -1 }],
    [{ limit: 1.5 }],
  ])('rejects %j with code 4', async (extra) => {
    const attempt = server.client.queryUsers({ payload: { filter_conditions: {}, ...extra } });
    await expect(attempt).rejects.toMatchObject({ code: 4, metadata: { responseCode: 400 } });
    await expect(attempt).rejects.toThrow(/QueryUsers failed with error: "/);
  });
});

describe('GET /api/v2/users: storage untouched by hostile input', () => {
  it('still has its users table', async () => {
    const result = await sql<{ count: number }>`SELECT count(*)::int AS count FROM users`.execute(server.database.db);
    expect(result.rows[0]!.count).toBe(42);
  });
});
