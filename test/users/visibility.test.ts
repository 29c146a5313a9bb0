// What a user token sees of other users: no `revoke_tokens_issued_before`, no `privacy_settings`, and
// `blocked_user_ids` empty on v2 (node-sdk's types require it) and left out on v1; its own user in full; server-side
// callers see everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const iat = Math.floor(Date.now() / 1000) - 5;
const tokenOf = (id: string) => signToken({ user_id: id, iat });
const PRIVACY = { typing_indicators: { enabled: false }, read_receipts: { enabled: false } };

beforeAll(async () => {
  server = await startTestServer({ webhooks: false });
  await server.client.upsertUsers([
    { id: 'viewer', name: 'Viewer', privacy_settings: PRIVACY },
    { id: 'secretive', name: 'Secretive', privacy_settings: PRIVACY },
    { id: 'blocked-one', name: 'Blocked' },
  ]);
  await server.client.blockUsers({ user_id: 'secretive', blocked_user_id: 'blocked-one' });
  await server.client.blockUsers({ user_id: 'viewer', blocked_user_id: 'secretive' });
  const cutoff = new Date(Date.now() - 3_600_000);
  await server.client.updateUsersPartial({ users: [{ id: 'secretive', set: { revoke_tokens_issued_before: cutoff } }] });
  await server.client.updateUsersPartial({ users: [{ id: 'viewer', set: { revoke_tokens_issued_before: cutoff } }] });
});
afterAll(async () => {
  await server?.close();
});

const asUser = (id: string) => ({ 'stream-auth-type': 'jwt', authorization: tokenOf(id) });

function query(path: string, ids: string[], headers: Record<string, string>) {
  return server.request('GET', path, { query: { payload: JSON.stringify({ filter_conditions: { id: { $in: ids } }, sort: [{ field: 'id', direction: 1 }] }) }, headers });
}

describe('other users as a user token sees them', () => {
  it('v2 queries: other users without private fields, blocked_user_ids []; the caller in full', async () => {
    const response = await query('/api/v2/users', ['viewer', 'secretive'], asUser('viewer'));
    expect(response.status).toBe(200);
    const [secretive, viewer] = response.body.users;
    expect(secretive.id).toBe('secretive');
    expect(secretive.blocked_user_ids).toEqual([]);
    expect(secretive).not.toHaveProperty('revoke_tokens_issued_before');
    expect(secretive).not.toHaveProperty('privacy_settings');
    expect(secretive.name).toBe('Secretive');
    expect(viewer.id).toBe('viewer');
    expect(viewer.blocked_user_ids).toEqual(['secretive']);
    expect(viewer.privacy_settings).toEqual(PRIVACY);
    expect(typeof viewer.revoke_tokens_issued_before).toBe('number');
  });

  it('v1 queries (stream-chat\'s paths): blocked_user_ids, privacy_settings and the cut-off left out of other users', async () => {
    const response = await query('/users', ['viewer', 'secretive'], asUser('viewer'));
    expect(response.status).toBe(200);
    const [secretive, viewer] = response.body.users;
    expect(secretive.id).toBe('secretive');
    expect(secretive).not.toHaveProperty('blocked_user_ids');
    expect(secretive).not.toHaveProperty('privacy_settings');
    expect(secretive).not.toHaveProperty('revoke_tokens_issued_before');
    expect(viewer.blocked_user_ids).toEqual(['secretive']);
    expect(viewer.privacy_settings).toEqual(PRIVACY);
    expect(typeof viewer.revoke_tokens_issued_before).toBe('string');
  });

  it('blocks: the blocked user without its private fields, on both families', async () => {
    const v2 = await server.request('GET', '/api/v2/users/block', { headers: asUser('viewer') });
    expect(v2.status).toBe(200);
    expect(v2.body.blocks[0].blocked_user).toMatchObject({ id: 'secretive', blocked_user_ids: [] });
    expect(v2.body.blocks[0].blocked_user).not.toHaveProperty('privacy_settings');
    expect(v2.body.blocks[0].blocked_user).not.toHaveProperty('revoke_tokens_issued_before');
    expect(v2.body.blocks[0].user.blocked_user_ids).toEqual(['secretive']);
    const v1 = await server.request('GET', '/users/block', { headers: asUser('viewer') });
    expect(v1.status).toBe(200);
    expect(v1.body.blocks[0].blocked_user).not.toHaveProperty('blocked_user_ids');
    expect(v1.body.blocks[0].blocked_user).not.toHaveProperty('privacy_settings');
    expect(v1.body.blocks[0].user.privacy_settings).toEqual(PRIVACY);
  });

  it('server-side callers see everything', async () => {
    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: 'secretive' } } });
    expect(users[0]!.blocked_user_ids).toEqual(['blocked-one']);
    expect(users[0]!.privacy_settings).toEqual(PRIVACY);
    expect(users[0]!.revoke_tokens_issued_before).toBeInstanceOf(Date);
    const v1 = await server.request('GET', '/users', { query: { payload: JSON.stringify({ filter_conditions: { id: 'secretive' } }) } });
    expect(v1.body.users[0].blocked_user_ids).toEqual(['blocked-one']);
    expect(v1.body.users[0].privacy_settings).toEqual(PRIVACY);
  });
});
