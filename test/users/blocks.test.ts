import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.client.upsertUsers([
    { id: 'blocker', name: 'Blocker' },
    { id: 'annoying', name: 'Annoying' },
    { id: 'spammer', name: 'Spammer' },
    { id: 'other', name: 'Other' },
  ]);
});
afterAll(async () => {
  await server?.close();
});

async function blockedIds(id: string): Promise<string[]> {
  const response = await server.client.queryUsers({ payload: { filter_conditions: { id } } });
  expect(response.users).toHaveLength(1);
  return response.users[0]!.blocked_user_ids;
}

describe('user blocks', () => {
  it('blocks a user and reports the block', async () => {
    const before = Date.now();
    const response = await server.client.blockUsers({ blocked_user_id: 'annoying', user_id: 'blocker' });
    expect(response.blocked_by_user_id).toBe('blocker');
    expect(response.blocked_user_id).toBe('annoying');
    expect(response.created_at).toBeInstanceOf(Date);
    expect(response.created_at.getTime()).toBeGreaterThanOrEqual(before - 60_000);
    expect(response.created_at.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(response.metadata.responseCode).toBe(201);
    expect(typeof response.duration).toBe('string');

    expect(await blockedIds('blocker')).toEqual(['annoying']);
    // Blocking is one-way.
    expect(await blockedIds('annoying')).toEqual([]);
  });

  it('lists the blocks of a user with both users', async () => {
    const response = await server.client.getBlockedUsers({ user_id: 'blocker' });
    expect(response.blocks).toHaveLength(1);
    const block = response.blocks[0]!;
    expect(block.user_id).toBe('blocker');
    expect(block.blocked_user_id).toBe('annoying');
    expect(block.created_at).toBeInstanceOf(Date);
    expect(block.user).toMatchObject({ id: 'blocker', name: 'Blocker', role: 'user', blocked_user_ids: ['annoying'] });
    expect(block.blocked_user).toMatchObject({ id: 'annoying', name: 'Annoying', role: 'user', blocked_user_ids: [] });
    expect(block.user.created_at).toBeInstanceOf(Date);
    expect(block.blocked_user.created_at).toBeInstanceOf(Date);
    expect(response.metadata.responseCode).toBe(200);

    const raw = await server.request('GET', '/api/v2/users/block', { query: { user_id: 'blocker' } });
    expect(raw.status).toBe(200);
    expect(raw.text).toMatch(/"created_at":\d{19}[,}]/);
  });

  it('keeps the first block (and its date) when blocking twice', async () => {
    const first = (await server.client.getBlockedUsers({ user_id: 'blocker' })).blocks[0]!;
    const again = await server.client.blockUsers({ blocked_user_id: 'annoying', user_id: 'blocker' });
    expect(again.created_at.getTime()).toBe(first.created_at.getTime());
    expect(await blockedIds('blocker')).toEqual(['annoying']);
  });

  it('holds several blocks, shows them in upsert and partial-update responses, and survives an upsert', async () => {
    await server.client.blockUsers({ blocked_user_id: 'spammer', user: { id: 'blocker' } });
    expect((await blockedIds('blocker')).sort()).toEqual(['annoying', 'spammer']);
    const upserted = await server.client.upsertUsers([{ id: 'blocker', name: 'Blocker again' }]);
    expect(upserted.users.blocker!.blocked_user_ids.sort()).toEqual(['annoying', 'spammer']);
    const patched = await server.client.updateUsersPartial({ users: [{ id: 'blocker', set: { x: 1 } }] });
    expect(patched.users.blocker!.blocked_user_ids.sort()).toEqual(['annoying', 'spammer']);
    const listed = await server.client.getBlockedUsers({ user_id: 'blocker' });
    expect(listed.blocks.map((b) => b.blocked_user_id).sort()).toEqual(['annoying', 'spammer']);
  });

  it('unblocks', async () => {
    const response = await server.client.unblockUsers({ blocked_user_id: 'annoying', user_id: 'blocker' });
    expect(response.metadata.responseCode).toBe(201);
    expect(typeof response.duration).toBe('string');
    expect(await blockedIds('blocker')).toEqual(['spammer']);
    const listed = await server.client.getBlockedUsers({ user_id: 'blocker' });
    expect(listed.blocks.map((b) => b.blocked_user_id)).toEqual(['spammer']);

    await server.client.unblockUsers({ blocked_user_id: 'spammer', user_id: 'blocker' });
    expect(await blockedIds('blocker')).toEqual([]);
    expect((await server.client.getBlockedUsers({ user_id: 'blocker' })).blocks).toEqual([]);
    // Unblocking someone not blocked is harmless.
    await server.client.unblockUsers({ blocked_user_id: 'spammer', user_id: 'blocker' });
  });

  it('answers 404 code 16 for users that do not exist', async () => {
    const attempts = [
      () => server.client.blockUsers({ blocked_user_id: 'ghost', user_id: 'blocker' }),
      () => server.client.blockUsers({ blocked_user_id: 'annoying', user_id: 'ghost' }),
      () => server.client.unblockUsers({ blocked_user_id: 'ghost', user_id: 'blocker' }),
      () => server.client.getBlockedUsers({ user_id: 'ghost' }),
    ];
    for (const attempt of attempts) {
      await expect(attempt()).rejects.toMatchObject({ code: 16, metadata: { responseCode: 404 } });
    }
    await expect(server.client.blockUsers({ blocked_user_id: 'ghost', user_id: 'blocker' })).rejects.toThrow(
      /BlockUsers failed with error: ".*ghost.*"/,
    );
    expect(await blockedIds('blocker')).toEqual([]);
  });

  it('requires the acting user server-side: code 4', async () => {
    for (const [method, path, options] of [
      ['POST', '/api/v2/users/block', { body: { blocked_user_id: 'annoying' } }],
      ['POST', '/api/v2/users/unblock', { body: { blocked_user_id: 'annoying' } }],
      ['GET', '/api/v2/users/block', {}],
    ] as const) {
      const raw = await server.request(method, path, options);
      expect(raw.status, `${method} ${path}`).toBe(400);
      expect(raw.body.code).toBe(4);
      expect(raw.body.message).toMatch(/^(BlockUsers|UnblockUsers|GetBlockedUsers) failed with error: "/);
    }
    await expect(server.client.blockUsers({ blocked_user_id: 'annoying' })).rejects.toMatchObject({ code: 4 });
    await expect(server.client.getBlockedUsers()).rejects.toMatchObject({ code: 4 });
  });

  it('rejects a user blocking themselves, and a missing blocked_user_id, with code 4', async () => {
    await expect(server.client.blockUsers({ blocked_user_id: 'other', user_id: 'other' })).rejects.toMatchObject({ code: 4 });
    const raw = await server.request('POST', '/api/v2/users/block', { body: { user_id: 'other' } });
    expect(raw.status).toBe(400);
    expect(raw.body.code).toBe(4);
    expect(await blockedIds('other')).toEqual([]);
  });
});
