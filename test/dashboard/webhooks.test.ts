// The dashboard's Webhooks page, with a signed-in operator over HTTP and real receivers: per-hook counts and the last
// error without query values, failed deliveries listed, "retry now" (one, then all failed of a hook) and "cancel
// pending" (after a confirmation); each action refused without its CSRF token, and logged.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, API_SECRET, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const noticeOf = (body: string) => /role="status" id="notice"><p>(.*?)<\/p>/s.exec(body)?.[1];

describe('the Webhooks page', () => {
  let server: TestServer;
  let app: FastifyInstance;
  let cookie: string;
  let csrf: string;
  let refusing: Receiver;
  let accepting = false;
  const logLines: string[] = [];

  const get = (url: string) => app.inject({ method: 'GET', url, headers: { cookie } });
  const post = (url: string, fields: Record<string, string>) => app.inject({ method: 'POST', url, headers: { ...FORM, cookie }, payload: form({ _csrf: csrf, ...fields }) });
  const hook = async (id: string) => (await server.request('GET', '/operator/webhooks')).body.hooks.find((h: { id: string }) => h.id === id);
  async function waitUntil(check: () => Promise<boolean>) {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  beforeAll(async () => {
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));
    server = await startTestServer({ dashboard: {}, logger, worker: false, webhooks: { retry: { firstMs: 60_000 } } });
    app = server.app;
    // Refuses (404, failed at once) until told to accept.
    refusing = await startReceiver(() => ({ status: accepting ? 200 : 404 }));
    const signIn = await app.inject({ method: 'POST', url: '/dashboard/sign-in', headers: FORM, payload: form({ api_key: API_KEY, api_secret: API_SECRET }) });
    cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    csrf = /name="_csrf" value="([^"]+)"/.exec((await get('/dashboard/users')).body)![1]!;
  });
  afterAll(async () => {
    await server?.close();
    await refusing?.close();
  });

  it('shows each hook\'s counts and failed deliveries; retries one, then all, and cancels pending ones', async () => {
    await server.client.updateApp({
      event_hooks: [
        { id: 'refusing', hook_type: 'webhook', webhook_url: refusing.url('/in?token=s3cret') },
        { id: 'parked', hook_type: 'webhook', webhook_url: 'http://127.0.0.1:9/parked', enabled: false },
      ] as never,
    });
    await server.client.upsertUsers([{ id: 'w1' }, { id: 'w2' }, { id: 'w3' }]);
    await waitUntil(async () => (await hook('refusing'))?.failed === 3);

    const page = await get('/dashboard/webhooks');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('aria-current="page">Webhooks');
    expect(page.body).toContain('/in?token=…');
    expect(page.body).not.toContain('s3cret');
    expect(page.body).toContain('the receiver answered 404');
    expect(page.body).toContain('Retry all 3 failed now');
    expect(page.body).toContain('Cancel 3 pending');
    const ids = [...page.body.matchAll(/name="delivery_id" value="([0-9a-f-]{36})"/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(3);

    // Without its CSRF token an action is refused and changes nothing.
    const forged = await app.inject({ method: 'POST', url: '/dashboard/webhooks/refusing/retry', headers: { ...FORM, cookie }, payload: form({}) });
    expect(forged.statusCode).toBe(403);
    expect((await hook('refusing')).failed).toBe(3);

    accepting = true;
    const one = await post('/dashboard/webhooks/refusing/retry', { delivery_id: ids[0]! });
    expect(one.statusCode).toBe(303);
    expect(noticeOf((await get(String(one.headers.location))).body)).toBe('The failed deliveries are due again now.');
    // Failed drops to 2 as soon as the delivery is due again; it has been sent once nothing is pending either.
    await waitUntil(async () => {
      const counts = await hook('refusing');
      return counts.failed === 2 && counts.pending === 0;
    });
    expect(refusing.received.filter((entry) => entry.headers['x-webhook-id'] === ids[0]).map((entry) => entry.headers['x-webhook-attempt'])).toEqual(['1', '2']);
    await post('/dashboard/webhooks/refusing/retry', {});
    await waitUntil(async () => (await hook('refusing')).failed === 0 && (await hook('refusing')).pending === 0);
    expect(refusing.received).toHaveLength(6);

    // Cancel pending: asked first, then done.
    const ask = await post('/dashboard/webhooks/parked/cancel', {});
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('Cancel the pending deliveries of parked?');
    expect((await hook('parked')).pending).toBe(3);
    const done = await post('/dashboard/webhooks/parked/cancel', { confirmed: 'yes' });
    expect(done.statusCode).toBe(303);
    expect(await hook('parked')).toMatchObject({ pending: 0, cancelled: 3 });
    expect((await post('/dashboard/webhooks/nope/cancel', { confirmed: 'yes' })).statusCode).toBe(404);

    const logged = logLines.map((line) => JSON.parse(line) as { msg: string; hook?: string; cancelled?: number; retried?: number });
    expect(logged).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'operator retried webhook deliveries', hook: 'refusing', retried: 1 }),
        expect.objectContaining({ msg: 'operator retried webhook deliveries', hook: 'refusing', retried: 2 }),
        expect.objectContaining({ msg: 'operator cancelled pending webhook deliveries', hook: 'parked', cancelled: 3 }),
      ]),
    );
  });
});
