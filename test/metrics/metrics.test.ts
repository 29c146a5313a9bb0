// GET /metrics: Prometheus text with the metrics README "Operating" lists; its token; and counters that move with
// what the server does (requests, rate-limit refusals, task attempts, webhook deliveries, WebSocket connections).
import { StreamChat } from 'stream-chat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/lib/network.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { API_KEY, API_SECRET, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';

const TOKEN = 'metrics-token-for-tests';

/** Samples of a Prometheus text exposition: "name{labels}" → value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

function sample(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const [key, value] of samples) {
    const [metric, labelText = ''] = key.split(/\{(.*)\}$/);
    if (metric !== name) continue;
    const present = labelText ? labelText.split(/,(?=[a-z_]+=")/) : [];
    if (wanted.every((label) => present.includes(label))) return value;
  }
  return undefined;
}

describe('GET /metrics', () => {
  let server: TestServer;
  let receiver: Receiver;

  async function scrape(): Promise<Map<string, number>> {
    const response = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return parse(await response.text());
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startTestServer({ metrics: { token: TOKEN }, rateLimit: { multiplier: 100, overrides: { GetBlockedUsers: 2 } } });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('asks for the token when one is configured, with a 401 envelope, and takes no other credential', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const response = await fetch(`${server.baseUrl}/metrics`, { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 5, StatusCode: 401, message: expect.stringContaining('GetMetrics failed') });
    }
    // A server-side API token is no way in either.
    expect((await server.request('GET', '/metrics')).status).toBe(401);
  });

  it('lists every metric family with its labels, and the counters move with what the server does', async () => {
    const before = await scrape();
    for (const name of [
      'stream_http_requests_total',
      'stream_http_request_duration_seconds_bucket',
      'stream_tasks',
      'stream_tasks_oldest_pending_seconds',
      'stream_webhook_deliveries',
      'stream_webhook_oldest_pending_seconds',
      'stream_db_pool_connections',
      'stream_websocket_connections',
      'stream_database_up',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(sample(before, name), name).toBeDefined();
    }
    expect(sample(before, 'stream_database_up')).toBe(1);
    for (const state of ['pending', 'waiting', 'running']) expect(sample(before, 'stream_tasks', { state }), state).toBe(0);
    for (const state of ['in_use', 'idle', 'waiting']) expect(sample(before, 'stream_db_pool_connections', { state }), state).toBeDefined();

    // Requests, by operation and status, with their latency.
    const upserts = sample(before, 'stream_http_requests_total', { operation: 'UpdateUsers', method: 'POST', status: '201' }) ?? 0;
    for (let i = 0; i < 3; i++) await server.client.upsertUsers([{ id: `metrics-${i}`, name: `Metrics ${i}` }]);
    // Rate-limit refusals: GetBlockedUsers allows 2 a minute here.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await server.request('GET', '/api/v2/users/block', { query: { user_id: 'metrics-0' } })).status);
    expect(statuses).toEqual([200, 200, 429]);
    // Tasks: one deactivation, completed.
    const { task_id } = await server.client.deactivateUsers({ user_ids: ['metrics-1'] });
    expect((await waitForTask(server.client, task_id)).status).toBe('completed');
    // A WebSocket connection.
    const chat = new StreamChat(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true });
    await chat.connectUser({ id: 'metrics-2' }, new StreamChat(API_KEY, API_SECRET).createToken('metrics-2'));
    // A webhook delivery.
    await server.client.updateApp({ webhook_url: receiver.url() });
    await server.client.updateUsersPartial({ users: [{ id: 'metrics-0', set: { name: 'Renamed' } }] });
    await receiver.waitFor((received) => received.length >= 1);

    let after = await scrape();
    // The dispatcher counts its attempt just after the receiver has answered.
    for (let i = 0; i < 50 && !sample(after, 'stream_webhook_attempts_total', { outcome: 'delivered' }); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await scrape();
    }
    expect(sample(after, 'stream_http_requests_total', { operation: 'UpdateUsers', method: 'POST', status: '201' })).toBe(upserts + 3);
    expect(sample(after, 'stream_http_request_duration_seconds_count', { operation: 'UpdateUsers', method: 'POST' })).toBeGreaterThanOrEqual(upserts + 3);
    expect(sample(after, 'stream_http_requests_total', { operation: 'GetBlockedUsers', method: 'GET', status: '429' })).toBe(1);
    expect(sample(after, 'stream_rate_limit_rejections_total', { operation: 'GetBlockedUsers', caller: 'server' })).toBe(1);
    expect(sample(after, 'stream_task_attempts_total', { type: 'DeactivateUsers', outcome: 'completed' })).toBe(1);
    expect(sample(after, 'stream_websocket_connections')).toBe(1);
    expect(sample(after, 'stream_webhook_attempts_total', { outcome: 'delivered' })).toBe(1);
    expect(sample(after, 'stream_webhook_deliveries', { state: 'pending' })).toBe(0);
    expect(sample(after, 'stream_webhook_deliveries', { state: 'cancelled' })).toBe(0);
    await chat.disconnectUser();
    expect(sample(await scrape(), 'stream_websocket_connections')).toBe(0);
  });

  it('counts requests to unknown URLs under one label, not one per URL', async () => {
    for (const path of ['/nope-1', '/nope-2', '/api/v2/nope']) expect((await fetch(`${server.baseUrl}${path}`)).status).toBe(404);
    const samples = await scrape();
    expect(sample(samples, 'stream_http_requests_total', { operation: 'unmatched', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(3);
    expect([...samples.keys()].filter((key) => key.includes('nope'))).toEqual([]);
  });
});

describe('GET /metrics without a token', () => {
  it('is served when asked for (server.ts: a loopback HOST), and does not exist when not (404 envelope)', async () => {
    const open = await startTestServer({ metrics: {}, worker: false, webhooks: false });
    const closed = await startTestServer({ worker: false, webhooks: false });
    try {
      expect((await fetch(`${open.baseUrl}/metrics`)).status).toBe(200);
      const response = await fetch(`${closed.baseUrl}/metrics`);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ StatusCode: 404, more_info: expect.any(String) });
    } finally {
      await open.close();
      await closed.close();
    }
  });

  it('takes loopback addresses for loopback, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', 'localhost.example.com', '::ffff:10.0.0.1', '']) expect(isLoopbackHost(host), host).toBe(false);
  });
});
