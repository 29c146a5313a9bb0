// Delivery: retries with the same X-Webhook-Id and rising X-Webhook-Attempt under the default schedule, a slow
// receiver that holds up no other hook, each user's events in commit order per hook, failure after the delivery's
// lifetime, and the operator's counts.
import { describe, expect, it } from 'vitest';
import { serversAndReceivers } from '../helpers/webhook-receiver.js';

const { serverWith, receiverWith } = serversAndReceivers();

describe('webhook delivery', () => {
  it('retries a failed delivery with the same X-Webhook-Id, attempts 1, 2 and 3, within 30 s on the default schedule', async () => {
    const server = await serverWith();
    const receiver = await receiverWith((_request, index) => ({ status: index < 2 ? 500 : 200 }));
    await server.client.updateApp({ webhook_url: receiver.url() });
    const started = Date.now();
    await server.client.upsertUsers([{ id: 'retried' }]);
    const received = await receiver.waitFor((all) => all.length >= 3, 30_000);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(new Set(received.map((entry) => entry.headers['x-webhook-id'])).size).toBe(1);
    expect(received.map((entry) => entry.headers['x-webhook-attempt'])).toEqual(['1', '2', '3']);
    // The same body, byte for byte, and a valid signature on each attempt.
    expect(new Set(received.map((entry) => entry.body)).size).toBe(1);
    for (const entry of received) expect(() => server.client.verifyAndParseWebhook(entry.body, entry.headers['x-signature'] as string)).not.toThrow();
    const counts = await server.client.getApp(); // any server-side call, then the operator's counts
    expect(counts.app).toBeDefined();
    await waitUntil(async () => (await server.request('GET', '/operator/webhooks')).body.pending === 0);
    const stats = await server.request('GET', '/operator/webhooks');
    expect(stats.body).toMatchObject({ pending: 0, failed: 0, cancelled: 0 });
    expect(stats.body.hooks).toEqual([expect.objectContaining({ id: 'webhook_url', pending: 0, failed: 0, last_error: 'the receiver answered 500' })]);
  }, 40_000);

  it('does not let a receiver that hangs past timeout_ms hold up another hook', async () => {
    const server = await serverWith();
    const stuck = await receiverWith(() => 'hang');
    const healthy = await receiverWith();
    await server.client.updateApp({
      event_hooks: [
        { hook_type: 'webhook', webhook_url: stuck.url(), timeout_ms: 2_000 },
        { hook_type: 'webhook', webhook_url: healthy.url() },
      ] as never,
    });
    const started = Date.now();
    await server.client.upsertUsers(Array.from({ length: 20 }, (_, i) => ({ id: `slow-${i}` })));
    await healthy.waitFor((all) => all.length >= 20, 10_000);
    expect(Date.now() - started).toBeLessThan(2_000 + 1_500);
    await stuck.waitFor((all) => all.length >= 1);
  });

  it("delivers one user's events to a hook in commit order, holding back later ones while an earlier one is retried", async () => {
    const server = await serverWith({ webhooks: { retry: { firstMs: 300 } } });
    let refusals = 0;
    const receiver = await receiverWith((request) => {
      const event = JSON.parse(request.body);
      // The first event of "ordered" is refused twice.
      if (event.user.id === 'ordered' && event.user.step === 1 && refusals < 2) {
        refusals++;
        return { status: 503 };
      }
      return { status: 200 };
    });
    await server.client.updateApp({ webhook_url: receiver.url() });
    await server.client.upsertUsers([{ id: 'ordered', custom: { step: 1 } }, { id: 'bystander' }]);
    for (let step = 2; step <= 5; step++) await server.client.updateUsersPartial({ users: [{ id: 'ordered', set: { step } }] });
    const about = (id: string) => receiver.received.filter((entry) => JSON.parse(entry.body).user.id === id);
    await receiver.waitFor(() => about('ordered').length >= 7 && about('bystander').length >= 1, 15_000);
    const delivered = about('ordered');
    expect(delivered.map((entry) => JSON.parse(entry.body).user.step)).toEqual([1, 1, 1, 2, 3, 4, 5]);
    // The other user's event was not held back by "ordered"'s retries.
    const bystander = receiver.received.findIndex((entry) => JSON.parse(entry.body).user.id === 'bystander');
    expect(bystander).toBeLessThan(receiver.received.findIndex((entry) => JSON.parse(entry.body).user.step === 2));
  });

  it('fails a delivery for good once it has been retried for its lifetime', async () => {
    const server = await serverWith({ webhooks: { retry: { firstMs: 100, maxMs: 200, maxAgeMs: 3_000 } } });
    const receiver = await receiverWith(() => ({ status: 500 }));
    await server.client.updateApp({ webhook_url: receiver.url() });
    await server.client.upsertUsers([{ id: 'unlucky' }]);
    await waitUntil(async () => (await server.request('GET', '/operator/webhooks')).body.failed === 1, 10_000);
    const attempts = receiver.received.length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(receiver.received.length).toBe(attempts);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
