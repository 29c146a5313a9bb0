// Webhooks an operator can steer, against real HTTP receivers: the configuration of the moment decides where a
// delivery goes (URL changes, removals, narrowed event types, pauses, ids kept across pushes without ids); failure
// classes (refusals fail at once and release the user's later events; Retry-After; the age limit of the queue behind
// a failed head); URLs (no credentials, only http(s), query values never shown); user.updated for a token cut-off; and
// a hard deletion's user.deleted reduced to the user's id once its delivery has ended.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, waitForTask, type TestServer } from '../helpers/server.js';
import { expirePausedDeliveries } from '../../src/webhooks/service.js';
import { eventsOf, serversAndReceivers, startReceiver, type Answer, type Received } from '../helpers/webhook-receiver.js';

const { serverWith, receiverWith } = serversAndReceivers();
// One server for most tests: its schedule waits a minute before a retry, so a retry that comes sooner came from a
// Retry-After; each test configures hooks of its own ids, and the previous test's hooks are removed first.
const logLines: string[] = [];
let shared: TestServer;
beforeAll(async () => {
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));
  shared = await startTestServer({ worker: {}, webhooks: { logger, retry: { firstMs: 60_000 } } });
});
afterAll(async () => {
  await shared?.close();
});
beforeEach(async () => {
  await shared.client.updateApp({ webhook_url: '', webhook_events: [], event_hooks: [] });
});

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const report = async (server: TestServer) => (await server.request('GET', '/operator/webhooks')).body;
const hookOf = async (server: TestServer, id: string) => (await report(server)).hooks.find((hook: { id: string }) => hook.id === id);
const userOf = (entry: Received) => JSON.parse(entry.body).user.id as string;

async function sdkError(promise: Promise<unknown>): Promise<{ code: number; message: string; metadata?: { responseCode: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: number; message: string };
  }
  throw new Error('expected the call to fail');
}

describe('the configuration of the moment decides', () => {
  it('sends a retried delivery to the URL configured when it is sent, under the same X-Webhook-Id, and the user\'s next events after it', async () => {
    const server = shared;
    const old = await receiverWith(() => ({ status: 503, headers: { 'retry-after': '1' } }));
    const moved = await receiverWith();
    await server.client.updateApp({ webhook_url: old.url() });
    await server.client.upsertUsers([{ id: 'mover', custom: { step: 1 } }]);
    await old.waitFor((all) => all.length >= 1);
    await server.client.updateApp({ webhook_url: moved.url() });
    await server.client.updateUsersPartial({ users: [{ id: 'mover', set: { step: 2 } }] });
    await moved.waitFor((all) => all.length >= 2);
    expect(moved.received.map((entry) => JSON.parse(entry.body).user.step)).toEqual([1, 2]);
    expect(moved.received[0]!.headers['x-webhook-id']).toBe(old.received[0]!.headers['x-webhook-id']);
    expect(Number(moved.received[0]!.headers['x-webhook-attempt'])).toBeGreaterThan(1);
    const attemptsAtOld = old.received.length;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(old.received.length).toBe(attemptsAtOld);
  });

  it('cancels the pending deliveries of a removed hook, and of event types taken out of a hook; counts them', async () => {
    const server = shared;
    const receiver = await receiverWith(() => ({ status: 503 }));
    await server.client.updateApp({ event_hooks: [{ hook_type: 'webhook', webhook_url: receiver.url('/a') }] as never });
    const [hook] = (await server.client.getApp()).app.event_hooks;
    // One head is tried (and waits a minute to be retried); the user's other events wait behind it.
    await server.client.upsertUsers([{ id: 'gone' }]);
    await server.client.deactivateUser({ user_id: 'gone' });
    await server.client.reactivateUser({ user_id: 'gone' });
    await receiver.waitFor((all) => all.length >= 1);
    // Narrowed: the deactivation and reactivation it no longer takes are cancelled; the head stays.
    await server.client.updateApp({ event_hooks: [{ ...hook, event_types: ['user.updated'] }] as never });
    expect(await hookOf(server, hook!.id!)).toMatchObject({ pending: 1, cancelled: 2 });
    // Removed: the rest goes too, and nothing more is sent.
    await server.client.updateApp({ event_hooks: [] });
    await waitUntil(async () => (await hookOf(server, hook!.id!))?.pending === 0);
    expect(await hookOf(server, hook!.id!)).toMatchObject({ pending: 0, cancelled: 3, configured: false });
    expect(receiver.received).toHaveLength(1);
  });

  it('cancels webhook_url deliveries when webhook_url is set to null', async () => {
    const server = shared;
    const receiver = await receiverWith(() => ({ status: 500 }));
    await server.client.updateApp({ webhook_url: receiver.url() });
    const cancelledBefore = (await hookOf(server, 'webhook_url'))?.cancelled ?? 0;
    await server.client.upsertUsers([{ id: 'n1' }, { id: 'n2' }]);
    await receiver.waitFor((all) => all.length >= 2);
    await server.client.updateUsersPartial({ users: [{ id: 'n1', set: { x: 1 } }] });
    await server.client.updateApp({ webhook_url: null as never });
    await waitUntil(async () => (await hookOf(server, 'webhook_url'))?.pending === 0);
    expect((await hookOf(server, 'webhook_url')).cancelled - cancelledBefore).toBe(3);
  });

  it('cancels the deliveries being sent when their hook is removed, once their send fails, instead of retrying them', async () => {
    const server = shared;
    // Each answer comes late: both sends are still in flight when the hook goes.
    const receiver = await receiverWith(() => ({ status: 500, delayMs: 1_000 }));
    await server.client.updateApp({ event_hooks: [{ id: 'in-flight', hook_type: 'webhook', webhook_url: receiver.url() }] as never });
    await server.client.upsertUsers([{ id: 'f1' }, { id: 'f2' }]);
    await receiver.waitFor((all) => all.length >= 2);
    await server.client.updateApp({ event_hooks: [] });
    await waitUntil(async () => (await hookOf(server, 'in-flight'))?.pending === 0, 5_000);
    expect(await hookOf(server, 'in-flight')).toMatchObject({ pending: 0, cancelled: 2, configured: false });
    expect(receiver.received).toHaveLength(2);
  });

  it('pauses a disabled hook: its events wait, and go out in order when it is enabled again', async () => {
    const server = shared;
    const receiver = await receiverWith();
    const config = { hook_type: 'webhook', webhook_url: receiver.url() };
    await server.client.updateApp({ event_hooks: [{ ...config, enabled: false }] as never });
    const [hook] = (await server.client.getApp()).app.event_hooks;
    await server.client.upsertUsers([{ id: 'paused', custom: { step: 1 } }]);
    await server.client.updateUsersPartial({ users: [{ id: 'paused', set: { step: 2 } }] });
    await waitUntil(async () => (await hookOf(server, hook!.id!))?.pending === 2);
    await new Promise((resolve) => setTimeout(resolve, 700)); // more than a poll of the dispatcher
    expect(receiver.received).toHaveLength(0);
    expect(await hookOf(server, hook!.id!)).toMatchObject({ enabled: false, pending: 2 });
    await server.client.updateApp({ event_hooks: [{ ...config, id: hook!.id, enabled: true }] as never });
    await receiver.waitFor((all) => all.length >= 2);
    expect(receiver.received.map((entry) => JSON.parse(entry.body).user.step)).toEqual([1, 2]);
  });

  it("fails a paused hook's deliveries once they are past the age limit (housekeeping), and sends none of them", async () => {
    const server = shared;
    const receiver = await receiverWith();
    await server.client.updateApp({ event_hooks: [{ id: 'paused-long', hook_type: 'webhook', webhook_url: receiver.url(), enabled: false }] as never });
    await server.client.upsertUsers([{ id: 'stale', custom: { step: 1 } }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.client.updateUsersPartial({ users: [{ id: 'stale', set: { step: 2 } }] });
    // With an age limit of 250 ms, the first is past it and the second not yet.
    expect(await expirePausedDeliveries(server.app.services, 250)).toBe(1);
    expect(await hookOf(server, 'paused-long')).toMatchObject({ pending: 1, failed: 1 });
    await server.client.updateApp({ event_hooks: [{ id: 'paused-long', hook_type: 'webhook', webhook_url: receiver.url() }] as never });
    await receiver.waitFor((all) => all.length >= 1);
    expect(receiver.received.map((entry) => JSON.parse(entry.body).user.step)).toEqual([2]);
  });

  it('keeps the id of the one stored hook of the same type and URL when hooks are sent without ids; refuses an ambiguous push', async () => {
    const server = shared;
    const pushed = [
      { hook_type: 'webhook', webhook_url: 'https://example.com/a', event_types: ['user.updated'] },
      { hook_type: 'webhook', webhook_url: 'https://example.com/b' },
      { hook_type: 'sqs', sqs_queue_url: 'https://sqs.example.com/q', sqs_region: 'eu-west-1' },
    ];
    await server.client.updateApp({ event_hooks: pushed as never });
    const first = (await server.client.getApp()).app.event_hooks;
    await server.client.updateApp({ event_hooks: [pushed[1], { ...pushed[0], event_types: ['user.deleted'] }, pushed[2]] as never });
    const again = (await server.client.getApp()).app.event_hooks;
    expect(again.map((hook) => hook.id)).toEqual([first[1]!.id, first[0]!.id, first[2]!.id]);
    expect(again[1]!.created_at!.getTime()).toBe(first[0]!.created_at!.getTime());
    // A new URL is a new hook.
    await server.client.updateApp({ event_hooks: [{ hook_type: 'webhook', webhook_url: 'https://example.com/c' }] as never });
    const other = (await server.client.getApp()).app.event_hooks;
    expect(first.map((hook) => hook.id)).not.toContain(other[0]!.id);

    // Two stored hooks with one URL (given by id): a hook sent without an id cannot say which it is.
    await server.client.updateApp({
      event_hooks: [
        { id: 'x1', hook_type: 'webhook', webhook_url: 'https://example.com/same?token=s3cret', event_types: ['user.updated'] },
        { id: 'x2', hook_type: 'webhook', webhook_url: 'https://example.com/same?token=s3cret', event_types: ['user.deleted'] },
      ] as never,
    });
    const ambiguous = await sdkError(server.client.updateApp({ event_hooks: [{ hook_type: 'webhook', webhook_url: 'https://example.com/same?token=s3cret' }] as never }));
    expect(ambiguous.code).toBe(4);
    expect(ambiguous.message).toMatch(/matches 2 stored hooks.*x1, x2/);
    expect(ambiguous.message).not.toContain('s3cret');
    // Two sent without ids, matching one stored hook.
    await server.client.updateApp({ event_hooks: [{ id: 'y', hook_type: 'webhook', webhook_url: 'https://example.com/y' }] as never });
    const twice = await sdkError(
      server.client.updateApp({ event_hooks: [{ hook_type: 'webhook', webhook_url: 'https://example.com/y' }, { hook_type: 'webhook', webhook_url: 'https://example.com/y' }] as never }),
    );
    expect(twice.code).toBe(4);
    // A refused update changed nothing.
    expect((await server.client.getApp()).app.event_hooks.map((hook) => hook.id)).toEqual(['y']);
  });
});

describe('failure classes', () => {
  it('fails a refused event at once with its status, and releases the user\'s later events at once', async () => {
    const server = shared;
    const receiver = await receiverWith((request) => ({ status: JSON.parse(request.body).user.code ?? 200 }));
    await server.client.updateApp({ event_hooks: [{ id: 'refusals', hook_type: 'webhook', webhook_url: receiver.url() }] as never });
    for (const code of [400, 404, 410, 413, 301]) {
      const id = `refused-${code}`;
      await server.client.upsertUsers([{ id, custom: { code } }]);
      await server.client.updateUsersPartial({ users: [{ id, unset: ['code'] }] });
    }
    await receiver.waitFor((all) => all.length >= 10);
    for (const code of [400, 404, 410, 413, 301]) {
      const about = receiver.received.filter((entry) => userOf(entry) === `refused-${code}`);
      expect(about.map((entry) => entry.headers['x-webhook-attempt'])).toEqual(['1', '1']);
    }
    await waitUntil(async () => (await hookOf(server, 'refusals')).failed === 5);
    const counts = await hookOf(server, 'refusals');
    expect(counts).toMatchObject({ pending: 0, failed: 5 });
    expect(counts.last_error).toMatch(/the receiver answered \d{3}/);
    const failed = await server.database.db.selectFrom('webhook_deliveries').select(['last_status']).where('hook_id', '=', 'refusals').where('status', '=', 'failed').execute();
    expect(failed.map((row) => row.last_status).sort()).toEqual([301, 400, 404, 410, 413]);
  });

  it('retries 408, 425, 429 and 5xx; honours Retry-After of 429 and 503 over its own schedule', async () => {
    const server = shared;
    const answers: Record<string, Answer[]> = {};
    const receiver = await receiverWith((request) => {
      const queue = answers[userOf(request)]!;
      return queue.length > 1 ? queue.shift()! : queue[0]!;
    });
    // Without Retry-After the schedule would wait a minute; with it, the second attempt comes at once.
    const zero = { 'retry-after': '0' };
    answers['r429'] = [{ status: 429, headers: zero }, { status: 200 }];
    answers['r503'] = [{ status: 503, headers: { 'retry-after': new Date(Date.now() - 1000).toUTCString() } }, { status: 200 }];
    await server.client.updateApp({ event_hooks: [{ id: 'retried', hook_type: 'webhook', webhook_url: receiver.url() }] as never });
    await server.client.upsertUsers([{ id: 'r429' }, { id: 'r503' }]);
    await receiver.waitFor((all) => all.length >= 4, 10_000);
    expect(receiver.received.filter((entry) => userOf(entry) === 'r429').map((entry) => entry.headers['x-webhook-attempt'])).toEqual(['1', '2']);
    await waitUntil(async () => (await hookOf(server, 'retried')).pending === 0);

    // 408, 425 and 5xx stay pending for their retry.
    for (const status of [408, 425, 500, 502]) answers[`s${status}`] = [{ status }];
    await server.client.upsertUsers([408, 425, 500, 502].map((status) => ({ id: `s${status}` })));
    await receiver.waitFor((all) => all.length >= 8);
    await waitUntil(async () => (await hookOf(server, 'retried')).pending === 4);
    expect(await hookOf(server, 'retried')).toMatchObject({ pending: 4, failed: 0 });
  });

  it('fails with a failed head the deliveries queued behind it that are already past the age limit', async () => {
    const server = await serverWith({ webhooks: { retry: { firstMs: 100, maxAgeMs: 1_000 } } });
    // The first event is answered 404 after 1.3 s: by then the second, queued behind it, is past the limit.
    const receiver = await receiverWith((request) => (JSON.parse(request.body).user.step === 1 ? { status: 404, delayMs: 1_300 } : { status: 200 }));
    await server.client.updateApp({ webhook_url: receiver.url() });
    await server.client.upsertUsers([{ id: 'aged', custom: { step: 1 } }]);
    await server.client.updateUsersPartial({ users: [{ id: 'aged', set: { step: 2 } }] });
    await waitUntil(async () => (await report(server)).failed === 2);
    await server.client.updateUsersPartial({ users: [{ id: 'aged', set: { step: 3 } }] });
    await receiver.waitFor((all) => all.length >= 2);
    expect(receiver.received.map((entry) => JSON.parse(entry.body).user.step)).toEqual([1, 3]);
    const rows = await server.database.db.selectFrom('webhook_deliveries').select(['status', 'last_error']).where('status', '=', 'failed').execute();
    expect(rows.map((row) => row.last_error).sort()).toEqual([expect.stringMatching(/past the age limit when the delivery ahead/), 'the receiver answered 404']);
  });
});

describe('URLs', () => {
  it('refuses credentials and other schemes (code 4); accepts a private-network target', async () => {
    const server = shared;
    for (const url of ['https://user:pass@example.com/hook', 'https://user@example.com/hook', 'ftp://example.com/hook', 'file:///etc/passwd', 'javascript:alert(1)']) {
      const single = await sdkError(server.client.updateApp({ webhook_url: url }));
      expect(single.code).toBe(4);
      expect(single.message).not.toContain('pass@');
      const hook = await sdkError(server.client.updateApp({ event_hooks: [{ hook_type: 'webhook', webhook_url: url }] as never }));
      expect(hook.code).toBe(4);
    }
    const refusal = await server.request('PATCH', '/api/v2/app', { body: { webhook_url: 'https://user:pass@example.com/hook' } });
    expect(refusal.status).toBe(400);
    expect(refusal.body.message).toMatch(/credentials/);
    expect((await server.client.getApp()).app.webhook_url).toBe('');
    await server.client.updateApp({ webhook_url: 'http://10.1.2.3:8080/hook' });
    expect((await server.client.getApp()).app.webhook_url).toBe('http://10.1.2.3:8080/hook');
  });

  it('keeps a query token in the settings, and out of outbox rows, errors, logs and /operator/webhooks', async () => {
    const server = shared;
    const closed = await startReceiver();
    const dead = closed.url('/hook?token=s3cret-value&x=1');
    await closed.close();
    await server.client.updateApp({ event_hooks: [{ id: 'secretive', hook_type: 'webhook', webhook_url: dead }] as never });
    expect((await server.client.getApp()).app.event_hooks[0]!.webhook_url).toBe(dead);
    await server.client.upsertUsers([{ id: 'secretive' }]);
    await waitUntil(async () => (await hookOf(server, 'secretive'))?.last_error !== null);
    const shown = JSON.stringify(await report(server));
    expect(shown).toContain(`${new URL(dead).origin}/hook?token=…&x=…`);
    const rows = await server.database.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', 'secretive').execute();
    const stored = JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? String(value) : value));
    expect(stored).toContain('/hook?token=');
    expect(rows[0]!.last_error).toMatch(/the request failed: ECONNREFUSED/);
    await waitUntil(() => logLines.some((line) => line.includes('webhook attempt not delivered') && line.includes('secretive')));
    for (const text of [shown, stored, logLines.join('')]) expect(text).not.toContain('s3cret-value');
  });
});

describe('events', () => {
  it('sends user.updated when a partial update sets or clears revoke_tokens_issued_before alone', async () => {
    const server = shared;
    const receiver = await receiverWith();
    await server.client.upsertUsers([{ id: 'revoked' }]);
    await server.client.updateApp({ webhook_url: receiver.url() });
    await server.client.updateUsersPartial({ users: [{ id: 'revoked', set: { revoke_tokens_issued_before: new Date('2026-01-01T00:00:00Z') } as never }] });
    await receiver.waitFor((all) => all.length >= 1);
    expect(eventsOf(receiver.received, 'user.updated')[0]!.user.revoke_tokens_issued_before).toBe('2026-01-01T00:00:00.000000Z');
    await server.client.updateUsersPartial({ users: [{ id: 'revoked', set: { revoke_tokens_issued_before: null } as never }] });
    await receiver.waitFor((all) => all.length >= 2);
    expect(eventsOf(receiver.received, 'user.updated')[1]!.user.revoke_tokens_issued_before).toBeUndefined();
  });

  it("sends a hard deletion's user.deleted with the user, and keeps only its id once the delivery has ended", async () => {
    const server = shared;
    const receiver = await receiverWith();
    await server.client.upsertUsers([{ id: 'erased', name: 'Erased Person', custom: { email: 'erased@example.com' } }]);
    await server.client.updateApp({ event_hooks: [{ id: 'erasure', hook_type: 'webhook', webhook_url: receiver.url(), event_types: ['user.deleted'] }] as never });
    const { task_id } = await server.client.deleteUsers({ user_ids: ['erased'], user: 'hard', messages: 'hard', conversations: 'hard' });
    await waitForTask(server.client, task_id);
    await receiver.waitFor((all) => all.length >= 1);
    const [sent] = eventsOf(receiver.received, 'user.deleted');
    expect(sent!.user).toMatchObject({ id: 'erased', name: 'Erased Person', email: 'erased@example.com' });
    expect(sent!.hard_delete).toBe(true);
    const erasure = server.database.db.selectFrom('webhook_deliveries').where('hook_id', '=', 'erasure');
    await waitUntil(async () => (await erasure.select('status').executeTakeFirst())?.status === 'delivered');
    const row = await erasure.select(['body', 'ended_body']).executeTakeFirstOrThrow();
    expect(row.ended_body).toBeNull();
    expect(row.body).not.toContain('Erased Person');
    expect(row.body).not.toContain('erased@example.com');
    expect(JSON.parse(row.body)).toMatchObject({ type: 'user.deleted', user: { id: 'erased' }, hard_delete: true });
    expect(Object.keys(JSON.parse(row.body).user)).toEqual(['id']);
  });
});
