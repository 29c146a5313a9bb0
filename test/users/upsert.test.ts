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

describe('POST /api/v2/users (upsert)', () => {
  it('runs the seed snippet: creates a user with custom data, name and image', async () => {
    const client = server.client;
    const newUser: UserRequest = {
      id: 'user-id',
      role: 'user',
      custom: {
        color: 'red',
      },
      name: 'This is a test user',
      image: 'link/to/profile/image',
    };
    const response = await client.upsertUsers([newUser]);
    const user = response.users['user-id']!;
    expect(user.id).toBe('user-id');
    expect(user.role).toBe('user');
    expect(user.custom).toEqual({ color: 'red' });
    expect(user.name).toBe('This is a test user');
    expect(user.image).toBe('link/to/profile/image');
    expect(user.created_at).toBeInstanceOf(Date);
    expect(Math.abs(user.created_at.getTime() - Date.now())).toBeLessThan(60_000);
    expect(response.membership_deletion_task_id).toBe('');
    expect(typeof response.duration).toBe('string');
  });

  it('replaces fields that are not sent, but keeps role and teams', async () => {
    const client = server.client;
    await client.upsertUsers([{ id: 'replace-me', role: 'admin', teams: ['red'], name: 'N', image: 'I', language: 'nl', custom: { a: 1 }, invisible: true }]);
    const response = await client.upsertUsers([{ id: 'replace-me', custom: { b: 2 } }]);
    const user = response.users['replace-me']!;
    expect(user.role).toBe('admin');
    expect(user.teams).toEqual(['red']);
    expect(user.name).toBeUndefined();
    expect(user.image).toBeUndefined();
    expect(user.language).toBe('');
    expect(user.invisible).toBe(false);
    expect(user.custom).toEqual({ b: 2 });
  });

  it('sets role and teams for the users of a batch that send them and keeps them for the others', async () => {
    await server.client.upsertUsers([
      { id: 'mixed-a', role: 'admin', teams: ['red'] },
      { id: 'mixed-b', role: 'admin', teams: ['red'] },
      { id: 'mixed-c', role: 'admin', teams: ['red'] },
    ]);
    const response = await server.client.upsertUsers([
      { id: 'mixed-a', role: 'moderator' },
      { id: 'mixed-b', teams: ['blue'] },
      { id: 'mixed-c', name: 'C', custom: { n: 1 }, privacy_settings: { typing_indicators: { enabled: false } } },
      { id: 'mixed-new' },
    ]);
    const pick = (u: { role?: string; teams?: string[] }) => ({ role: u.role, teams: u.teams });
    expect(pick(response.users['mixed-a']!)).toEqual({ role: 'moderator', teams: ['red'] });
    expect(pick(response.users['mixed-b']!)).toEqual({ role: 'admin', teams: ['blue'] });
    expect(pick(response.users['mixed-c']!)).toEqual({ role: 'admin', teams: ['red'] });
    expect(pick(response.users['mixed-new']!)).toEqual({ role: 'user', teams: [] });
    // What the upsert answers is what it stored.
    const stored = await server.client.queryUsers({ payload: { filter_conditions: { id: { $in: ['mixed-a', 'mixed-b', 'mixed-c', 'mixed-new'] } } } });
    for (const user of stored.users) expect(response.users[user.id]).toEqual(user);
  });

  it('keeps created_at and moves updated_at', async () => {
    const first = (await server.client.upsertUsers([{ id: 'times' }])).users.times!;
    const second = (await server.client.upsertUsers([{ id: 'times', name: 'x' }])).users.times!;
    expect(second.created_at.getTime()).toBe(first.created_at.getTime());
    expect(second.updated_at.getTime()).toBeGreaterThanOrEqual(first.updated_at.getTime());
  });

  it('returns the blocks of an existing user, and none for a new one', async () => {
    await server.client.upsertUsers([{ id: 'blocker' }, { id: 'blocked' }]);
    await server.client.blockUsers({ user_id: 'blocker', blocked_user_id: 'blocked' });
    const response = await server.client.upsertUsers([{ id: 'blocker', name: 'B' }, { id: 'newcomer' }]);
    expect(response.users.blocker!.blocked_user_ids).toEqual(['blocked']);
    expect(response.users.newcomer!.blocked_user_ids).toEqual([]);
    expect(response.users.newcomer!.online).toBe(false);
  });

  it('writes date-times as integer nanoseconds', async () => {
    const response = await server.request('POST', '/api/v2/users', { body: { users: { nanos: { id: 'nanos' } } } });
    expect(response.status).toBe(201);
    const match = /"created_at":(\d+)/.exec(response.text);
    expect(match).not.toBeNull();
    expect(match![1]!.length).toBe(19);
    const ms = Number(BigInt(match![1]!) / 1_000_000n);
    expect(Math.abs(ms - Date.now())).toBeLessThan(60_000);
  });

  it('rejects an invalid id with code 4 and writes nothing of the batch', async () => {
    const response = await server.request('POST', '/api/v2/users', {
      body: { users: { good: { id: 'good-one' }, bad: { id: 'bad id!' } } },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe(4);
    expect(response.body.message).toMatch(/^UpdateUsers failed with error: "/);
    const query = await server.client.queryUsers({ payload: { filter_conditions: { id: 'good-one' } } });
    expect(query.users).toHaveLength(0);
  });

  it('writes nothing of a batch that holds a deactivated or deleted user', async () => {
    await server.client.upsertUsers([{ id: 'batch-frozen', name: 'F' }, { id: 'batch-gone' }]);
    await server.client.deactivateUser({ user_id: 'batch-frozen' });
    await server.client.deleteUsers({ user_ids: ['batch-gone'] });
    await expect(
      server.client.upsertUsers([{ id: 'batch-fresh' }, { id: 'batch-frozen', name: 'changed' }]),
    ).rejects.toMatchObject({ code: 4, message: expect.stringContaining('"batch-frozen" was deactivated') });
    await expect(server.client.upsertUsers([{ id: 'batch-gone' }, { id: 'batch-fresh' }])).rejects.toMatchObject({
      code: 4,
      message: expect.stringContaining('"batch-gone" was deleted'),
    });
    const rows = await server.database.db.selectFrom('users').select(['id', 'name']).where('id', 'like', 'batch-%').orderBy('id').execute();
    expect(rows).toEqual([
      { id: 'batch-frozen', name: 'F' },
      { id: 'batch-gone', name: null },
    ]);
  });

  it('rejects more than 100 users', async () => {
    const users = Array.from({ length: 101 }, (_, i) => ({ id: `many-${i}` }));
    await expect(server.client.upsertUsers(users)).rejects.toMatchObject({ code: 4 });
  });

  it('rejects a user over 5 KB', async () => {
    await expect(server.client.upsertUsers([{ id: 'big', custom: { blob: 'x'.repeat(6000) } }])).rejects.toMatchObject({ code: 4 });
  });
});
