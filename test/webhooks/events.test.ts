// Every user event, from v2 (node-sdk) and v1 (stream-chat) routes alike, delivered to a real HTTP receiver and
// verified with node-sdk's own verifyAndParseWebhook and the real secret; each body checked against reference §8.
import { StreamClient } from '@stream-io/node-sdk';
import { StreamChat } from 'stream-chat';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serverSideChat, waitForTaskV1 } from '../helpers/stream-chat.js';
import { API_KEY, API_SECRET, signToken, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';
import { eventsOf, startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const RFC3339_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let server: TestServer;
let receiver: Receiver;
beforeAll(async () => {
  server = await startTestServer();
  receiver = await startReceiver();
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});
beforeEach(async () => {
  receiver.received.length = 0;
  await server.client.updateApp({ webhook_url: receiver.url(), webhook_events: [], event_hooks: [] });
});

/** Waits for `count` deliveries of `type` about `userId`, and checks each against its signature and §8's common shape. */
async function delivered(type: string, userId: string, count = 1) {
  const matching = () => receiver.received.filter((entry) => entry.body.includes(`"type":"${type}"`) && JSON.parse(entry.body).user?.id === userId);
  await receiver.waitFor(() => matching().length >= count);
  return matching().map((entry) => {
    expect(entry.headers['content-type']).toBe('application/json');
    expect(entry.headers['x-api-key']).toBe(API_KEY);
    expect(entry.headers['x-webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(entry.headers['x-webhook-attempt']).toBe('1');
    const signature = entry.headers['x-signature'] as string;
    // node-sdk's own check, with the real secret; a wrong secret fails it.
    const parsed = server.client.verifyAndParseWebhook(entry.body, signature) as unknown as { type: string };
    expect(parsed.type).toBe(type);
    expect(() => new StreamClient(API_KEY, 'not-the-secret').verifyAndParseWebhook(entry.body, signature)).toThrow();
    const body = JSON.parse(entry.body) as Record<string, any>;
    expect(body.created_at).toMatch(RFC3339_MICROS);
    expect(body.custom).toEqual({});
    // The user in the v1 representation: custom fields flattened, RFC3339 date-times.
    expect(body.user).not.toHaveProperty('custom');
    expect(body.user.created_at).toMatch(RFC3339_MICROS);
    return body;
  });
}

describe('user events', () => {
  it('user.updated for upsert, partial update and restore (v2); nothing for a write that changes nothing', async () => {
    await server.client.upsertUsers([{ id: 'ev-alice', name: 'Alice', custom: { color: 'red' } }]);
    const [created] = await delivered('user.updated', 'ev-alice');
    expect(created!.user).toMatchObject({ id: 'ev-alice', name: 'Alice', color: 'red', role: 'user' });

    await server.client.upsertUsers([{ id: 'ev-alice', name: 'Alice', custom: { color: 'red' } }]); // the same again
    await server.client.updateUsersPartial({ users: [{ id: 'ev-alice', set: { color: 'red' } }] }); // changes nothing
    await server.client.updateUsersPartial({ users: [{ id: 'ev-alice', set: { color: 'blue' } }] });
    const events = await delivered('user.updated', 'ev-alice', 2);
    expect(events.map((event) => event.user.color)).toEqual(['red', 'blue']);

    const { task_id } = await server.client.deleteUsers({ user_ids: ['ev-alice'] });
    await waitForTask(server.client, task_id);
    await server.client.restoreUsers({ user_ids: ['ev-alice'] });
    const afterRestore = await delivered('user.updated', 'ev-alice', 3);
    expect(afterRestore[2]!.user).not.toHaveProperty('deleted_at');
    expect(eventsOf(receiver.received, 'user.updated').filter((event) => event.user.id === 'ev-alice')).toHaveLength(3);
  });

  it('user.updated for v1 upserts, guests and the user sync of a WebSocket connect', async () => {
    const chat = serverSideChat(server);
    await chat.upsertUser({ id: 'ev-v1', name: 'V1', book: 'dune' } as never);
    const [v1] = await delivered('user.updated', 'ev-v1');
    expect(v1!.user).toMatchObject({ id: 'ev-v1', book: 'dune' });

    const guest = await server.client.createGuest({ user: { id: 'ev-guest', name: 'Guest' } });
    const [guestEvent] = await delivered('user.updated', guest.user.id);
    expect(guestEvent!.user.role).toBe('guest');

    const client = new StreamChat(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true });
    await client.connectUser({ id: 'ev-connected', name: 'Connected', mood: 'ok' } as never, chat.createToken('ev-connected'));
    await client.disconnectUser();
    const [connected] = await delivered('user.updated', 'ev-connected');
    expect(connected!.user).toMatchObject({ name: 'Connected', mood: 'ok' });
  });

  it('user.deactivated and user.reactivated, single and bulk, with created_by', async () => {
    await server.client.upsertUsers([{ id: 'ev-target' }, { id: 'ev-admin', name: 'Admin' }, { id: 'ev-bulk-1' }, { id: 'ev-bulk-2' }]);
    await server.client.deactivateUser({ user_id: 'ev-target', created_by_id: 'ev-admin' });
    const [deactivated] = await delivered('user.deactivated', 'ev-target');
    expect(deactivated).toMatchObject({ created_by_id: 'ev-admin', created_by: { id: 'ev-admin', name: 'Admin' } });
    expect(deactivated!.user.deactivated_at).toMatch(RFC3339_MICROS);
    await server.client.reactivateUser({ user_id: 'ev-target' });
    const [reactivated] = await delivered('user.reactivated', 'ev-target');
    expect(reactivated!.user).not.toHaveProperty('deactivated_at');
    expect(reactivated).not.toHaveProperty('created_by');

    const bulk = await server.client.deactivateUsers({ user_ids: ['ev-bulk-1', 'ev-bulk-2'], created_by_id: 'ev-admin' });
    await waitForTask(server.client, bulk.task_id);
    await delivered('user.deactivated', 'ev-bulk-1');
    await delivered('user.deactivated', 'ev-bulk-2');
    const chat = serverSideChat(server);
    const back = await chat.reactivateUsers(['ev-bulk-1', 'ev-bulk-2']);
    await waitForTaskV1(chat, back.task_id);
    await delivered('user.reactivated', 'ev-bulk-1');
    await delivered('user.reactivated', 'ev-bulk-2');
  });

  it('user.deleted when the task applies a deletion, again on escalation, with the last state of a hard-deleted user', async () => {
    await server.client.upsertUsers([{ id: 'ev-doomed', name: 'Doomed', custom: { keep: 'me' } }]);
    const soft = await server.client.deleteUsers({ user_ids: ['ev-doomed'] });
    await waitForTask(server.client, soft.task_id);
    const [first] = await delivered('user.deleted', 'ev-doomed');
    expect(first).toMatchObject({ delete_user: 'soft', hard_delete: false, delete_messages: '', delete_conversation: '', mark_messages_deleted: false, delete_conversation_channels: false });

    const hard = await server.client.deleteUsers({ user_ids: ['ev-doomed'], user: 'hard', messages: 'hard', conversations: 'hard' });
    await waitForTask(server.client, hard.task_id);
    const events = await delivered('user.deleted', 'ev-doomed', 2);
    expect(events[1]).toMatchObject({ delete_user: 'hard', hard_delete: true, delete_messages: 'hard', delete_conversation: 'hard', delete_conversation_channels: true });
    expect(events[1]!.user).toMatchObject({ id: 'ev-doomed', name: 'Doomed', keep: 'me' });
    expect(events[1]!.user.deleted_at).toMatch(RFC3339_MICROS);

    // The legacy v1 delete, through stream-chat.
    await server.client.upsertUsers([{ id: 'ev-legacy' }]);
    const chat = serverSideChat(server);
    const legacy = (await chat.deleteUser('ev-legacy', { mark_messages_deleted: true })) as unknown as { task_id: string };
    await waitForTaskV1(chat, legacy.task_id);
    const [legacyEvent] = await delivered('user.deleted', 'ev-legacy');
    expect(legacyEvent).toMatchObject({ delete_user: 'soft', delete_messages: 'soft', mark_messages_deleted: true });
  });

  it('sends nothing for a request refused as a whole', async () => {
    await server.client.upsertUsers([{ id: 'ev-ok' }, { id: 'ev-gone' }]);
    await receiver.waitFor((received) => received.length >= 2);
    const { task_id } = await server.client.deleteUsers({ user_ids: ['ev-gone'] });
    await waitForTask(server.client, task_id);
    await delivered('user.deleted', 'ev-gone');
    receiver.received.length = 0;
    // One user of the batch is deleted: the whole upsert is refused, and so is the partial update of a missing user.
    await expect(server.client.upsertUsers([{ id: 'ev-ok', name: 'changed' }, { id: 'ev-gone' }])).rejects.toThrow();
    await expect(server.client.updateUsersPartial({ users: [{ id: 'ev-ok', set: { a: 1 } }, { id: 'nobody', set: { a: 1 } }] })).rejects.toThrow();
    const token = signToken({ user_id: 'ev-ok', iat: Math.floor(Date.now() / 1000) - 5 });
    await server.request('POST', '/api/v2/users', { body: { users: { 'ev-ok': { id: 'ev-ok', role: 'admin' } } }, headers: { authorization: token } });
    await server.client.updateUsersPartial({ users: [{ id: 'ev-ok', set: { marker: 'after' } }] });
    const [after] = await delivered('user.updated', 'ev-ok');
    expect(after!.user.marker).toBe('after');
    expect(eventsOf(receiver.received)).toHaveLength(1);
  });
});

describe('which hooks get which events', () => {
  it('honours webhook_events, event_types, enabled and the hook type', async () => {
    const other = await startReceiver();
    try {
      await server.client.updateApp({
        webhook_url: receiver.url('/legacy'),
        webhook_events: ['user.deactivated'],
        event_hooks: [
          { hook_type: 'webhook', webhook_url: other.url('/all'), event_types: [] },
          { hook_type: 'webhook', webhook_url: other.url('/updated-only'), event_types: ['user.updated', 'message.new'] },
          { hook_type: 'webhook', webhook_url: other.url('/disabled'), enabled: false },
          { hook_type: 'pending_message', webhook_url: other.url('/pending'), callback: { mode: 'CALLBACK_MODE_REST' } },
        ] as never,
      });
      await server.client.upsertUsers([{ id: 'ev-filtered' }]);
      await server.client.deactivateUser({ user_id: 'ev-filtered' });
      await other.waitFor((received) => received.filter((entry) => entry.path === '/all').length >= 2);
      await receiver.waitFor((received) => received.length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // nothing else may arrive
      const byPath = (path: string) => other.received.filter((entry) => entry.path === path).map((entry) => JSON.parse(entry.body).type);
      expect(byPath('/all')).toEqual(['user.updated', 'user.deactivated']);
      expect(byPath('/updated-only')).toEqual(['user.updated']);
      expect(byPath('/disabled')).toEqual([]);
      expect(byPath('/pending')).toEqual([]);
      expect(receiver.received.map((entry) => [entry.path, JSON.parse(entry.body).type])).toEqual([['/legacy', 'user.deactivated']]);
      // One X-Webhook-Id per event and hook.
      const ids = [...other.received, ...receiver.received].map((entry) => entry.headers['x-webhook-id']);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await other.close();
    }
  });

  it('writes no delivery when no hook takes the event', async () => {
    await server.client.updateApp({ webhook_url: receiver.url(), webhook_events: ['user.deleted'] });
    await server.client.upsertUsers([{ id: 'ev-unheard' }]);
    const { sql } = await import('kysely');
    const rows = await sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_deliveries WHERE user_id = 'ev-unheard'`.execute(server.database.db);
    expect(rows.rows[0]!.n).toBe(0);
  });
});
