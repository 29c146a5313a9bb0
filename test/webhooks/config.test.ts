// Webhook configuration through updateApp / getApp, on /api/v2/app (node-sdk) and /app (stream-chat, and Stream's
// Python client's shape): webhook_url, webhook_events, and event_hooks of any type, stored and returned as given.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatError, serverSideChat } from '../helpers/stream-chat.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false, webhooks: false });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(async () => {
  await server.client.updateApp({ webhook_url: '', webhook_events: [], event_hooks: [] });
});

async function sdkError(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: number; message: string };
  }
  throw new Error('expected the call to fail');
}

describe('webhook configuration', () => {
  it('sets and reads webhook_url and webhook_events through node-sdk', async () => {
    await server.client.updateApp({ webhook_url: 'https://example.com/hooks/stream', webhook_events: ['user.updated', 'user.deleted'] });
    const { app } = await server.client.getApp();
    expect(app.webhook_url).toBe('https://example.com/hooks/stream');
    expect(app.webhook_events).toEqual(['user.updated', 'user.deleted']);
    await server.client.updateApp({ webhook_url: '' });
    expect((await server.client.getApp()).app.webhook_url).toBe('');
  });

  it('stores event hooks of every type as given, with an id and timestamps, and replaces the list on each update', async () => {
    const hooks = [
      { hook_type: 'webhook', webhook_url: 'https://example.com/a', event_types: ['user.updated', 'message.new'], enabled: true, timeout_ms: 2000 },
      { hook_type: 'pending_message', webhook_url: 'https://example.com/pending', callback: { mode: 'CALLBACK_MODE_REST' }, timeout_ms: 1000 },
      { hook_type: 'sqs', sqs_queue_url: 'https://sqs.example.com/q', sqs_region: 'eu-west-1', sqs_auth_type: 'keys', event_types: [] },
    ];
    await server.client.updateApp({ event_hooks: hooks as never });
    const stored = (await server.client.getApp()).app.event_hooks;
    expect(stored).toHaveLength(3);
    stored.forEach((hook, i) => {
      expect(hook).toMatchObject(hooks[i]!);
      expect(typeof hook.id).toBe('string');
      expect(hook.created_at).toBeInstanceOf(Date);
      expect(hook.updated_at).toBeInstanceOf(Date);
    });
    // Sent back with its id, a hook keeps it and its creation time.
    const [first] = stored;
    await new Promise((resolve) => setTimeout(resolve, 10));
    await server.client.updateApp({ event_hooks: [{ ...hooks[0], id: first!.id }] as never });
    const again = (await server.client.getApp()).app.event_hooks;
    expect(again).toHaveLength(1);
    expect(again[0]!.id).toBe(first!.id);
    expect(again[0]!.created_at!.getTime()).toBe(first!.created_at!.getTime());

    await server.client.updateApp({ event_hooks: [] });
    expect((await server.client.getApp()).app.event_hooks).toEqual([]);
  });

  it('round-trips Stream\'s Python client test on the v1 /app path: three hooks, then none', async () => {
    const chat = serverSideChat(server);
    await chat.updateAppSettings({
      event_hooks: [
        { hook_type: 'webhook', webhook_url: 'https://example.com/webhook', event_types: ['message.new'] },
        { hook_type: 'sqs', sqs_queue_url: 'https://sqs.us-east-1.amazonaws.com/123/q', sqs_region: 'us-east-1', event_types: [] },
        { hook_type: 'pending_message', webhook_url: 'https://example.com/pending', timeout_ms: 10000, callback: { mode: 'CALLBACK_MODE_REST' } },
      ],
    } as never);
    const { app } = (await chat.getAppSettings()) as unknown as { app: { event_hooks: Array<Record<string, unknown>> } };
    expect(app.event_hooks).toHaveLength(3);
    expect(app.event_hooks.map((hook) => hook.hook_type)).toEqual(['webhook', 'sqs', 'pending_message']);
    expect(app.event_hooks[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await chat.updateAppSettings({ event_hooks: [] } as never);
    expect(((await chat.getAppSettings()) as unknown as { app: { event_hooks: unknown[] } }).app.event_hooks).toEqual([]);
  });

  it('refuses a webhook URL that is not absolute http(s), naming the field (code 4)', async () => {
    for (const [patch, field] of [
      [{ webhook_url: 'ftp://example.com/x' }, 'webhook_url'],
      [{ webhook_url: '/relative' }, 'webhook_url'],
      [{ event_hooks: [{ hook_type: 'webhook', webhook_url: 'not a url' }] }, 'event_hooks[0].webhook_url'],
      [{ event_hooks: [{ hook_type: 'webhook' }] }, 'event_hooks[0].webhook_url'],
      [{ event_hooks: [{ hook_type: 'webhook', webhook_url: 'https://x.example', timeout_ms: 0 }] }, 'event_hooks[0].timeout_ms'],
      [{ webhook_events: 'user.updated' }, 'webhook_events'],
    ] as const) {
      const error = await sdkError(server.client.updateApp(patch as never));
      expect(error.code, JSON.stringify(patch)).toBe(4);
      expect(error.message).toContain(field);
    }
    const v1 = await chatError(serverSideChat(server).updateAppSettings({ webhook_url: 'javascript:alert(1)' } as never));
    expect(v1.code).toBe(4);
    expect(v1.message).toContain('webhook_url');
  });
});
