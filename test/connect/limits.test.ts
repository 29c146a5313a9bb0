// WebSocket limits: connections per address, per user and in all, connect attempts per minute, inbound frames per
// second, and the bytes a socket may leave unread. Each is tried with a client that never reads.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ConnectLimits } from '../../src/config.js';
import { openRawWebSocket, type RawSocket } from '../helpers/raw-websocket.js';
import { API_KEY, signToken, startTestServer, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const raw of sockets.splice(0)) raw.socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serverWith(limits: Partial<ConnectLimits>): Promise<TestServer> {
  const server = await startTestServer({ worker: false, connect: limits });
  await sql`INSERT INTO app_settings (id) VALUES (1) ON CONFLICT DO NOTHING`.execute(server.database.db);
  servers.push(server);
  return server;
}

const anonymous = { api_key: API_KEY, 'stream-auth-type': 'anonymous', json: JSON.stringify({ user_id: 'anon', user_details: { id: 'anon', anon: true } }) };
const asUser = (userId: string) => ({
  api_key: API_KEY,
  'stream-auth-type': 'jwt',
  authorization: signToken({ user_id: userId, iat: Math.floor(Date.now() / 1000) - 5 }),
  json: JSON.stringify({ user_id: userId, user_details: { id: userId } }),
});

async function open(server: TestServer, query: Record<string, string>, stopReading = true): Promise<RawSocket> {
  const raw = await openRawWebSocket(server.baseUrl, query, { stopReading });
  sockets.push(raw);
  return raw;
}

async function waitFor(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('WebSocket limits', () => {
  it('refuses an address its connection past the limit (429), and takes it again once one closes', async () => {
    const server = await serverWith({ perAddress: 3, anonymousPerAddress: 10 });
    const held = [await open(server, anonymous), await open(server, anonymous), await open(server, anonymous)];
    expect(held.map((raw) => raw.status)).toEqual(Array(3).fill('HTTP/1.1 101 Switching Protocols'));
    expect((await open(server, anonymous)).status).toBe('HTTP/1.1 429 Too Many Requests');
    held[0]!.socket.destroy();
    await waitFor(() => server.app.connectHub.size === 2);
    expect((await open(server, anonymous)).status).toBe('HTTP/1.1 101 Switching Protocols');
  });

  it('refuses connections past the total (503)', async () => {
    const server = await serverWith({ total: 2, anonymousShare: 1 });
    await open(server, anonymous);
    await open(server, anonymous);
    expect((await open(server, anonymous)).status).toBe('HTTP/1.1 503 Service Unavailable');
  });

  it('refuses an address its connect attempts past the limit a minute, open or not', async () => {
    const server = await serverWith({ attemptsPerMinute: 4 });
    for (let i = 0; i < 4; i++) {
      const raw = await open(server, anonymous);
      expect(raw.status).toBe('HTTP/1.1 101 Switching Protocols');
      raw.socket.destroy();
    }
    expect((await open(server, anonymous)).status).toBe('HTTP/1.1 429 Too Many Requests');
  });

  it("rejects a user's connection past its limit with code 9, and keeps the others", async () => {
    const server = await serverWith({ perUser: 2 });
    const first = await open(server, asUser('busy'), false);
    const second = await open(server, asUser('busy'), false);
    await waitFor(() => first.received.includes('health.check') && second.received.includes('health.check'));
    const third = await open(server, asUser('busy'), false);
    await waitFor(() => third.received.includes('"error"'));
    expect(third.received.toString()).toMatch(/"code":9/);
    expect(third.received.toString()).toContain('too many connections');
    // Another user connects as usual.
    const other = await open(server, asUser('idle'), false);
    await waitFor(() => other.received.includes('health.check'));
    expect(server.app.connectHub.size).toBeGreaterThanOrEqual(3);
  });

  it('closes a socket that sends more frames a second than allowed (1008)', async () => {
    const server = await serverWith({ messagesPerSecond: 10 });
    const url = new URL('/connect', server.baseUrl.replace('http', 'ws'));
    for (const [key, value] of Object.entries(anonymous)) url.searchParams.set(key, value);
    const ws = new WebSocket(url);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    await new Promise((resolve) => ws.once('message', resolve));
    for (let i = 0; i < 50; i++) ws.send(JSON.stringify([{ type: 'health.check', client_id: 'c' }]));
    expect(await closed).toEqual({ code: 1008, reason: 'too many messages' });
  });

  it('drops a socket that sends frames past the limit and never reads', async () => {
    const server = await serverWith({ messagesPerSecond: 10 });
    const raw = await open(server, anonymous);
    for (let i = 0; i < 50; i++) raw.sendText('[{"type":"health.check"}]');
    await waitFor(() => server.app.connectHub.size === 0);
  });

  it('drops a socket whose unsent answers pile up past the cap because it never reads', async () => {
    const server = await serverWith({ messagesPerSecond: 1_000_000, maxBufferedBytes: 64 * 1024 });
    const raw = await open(server, anonymous);
    await waitFor(() => server.app.connectHub.size === 1);
    const ping = '[{"type":"health.check","client_id":"never-reads"}]';
    // Each ping is answered with a health.check of ~130 bytes: far more than the socket buffers hold unread.
    for (let sent = 0; sent < 100_000 && server.app.connectHub.size > 0; sent += 1_000) {
      for (let i = 0; i < 1_000; i++) raw.sendText(ping);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await waitFor(() => server.app.connectHub.size === 0);
  });

  it('holds anonymous sockets to their own cap per address and to their share of the total, leaving users their slots', async () => {
    const perAddress = await serverWith({ anonymousPerAddress: 2 });
    const held = [await open(perAddress, anonymous), await open(perAddress, anonymous)];
    expect(held.map((raw) => raw.status)).toEqual(Array(2).fill('HTTP/1.1 101 Switching Protocols'));
    expect((await open(perAddress, anonymous)).status).toBe('HTTP/1.1 429 Too Many Requests');
    // The address may still connect as a user.
    const user = await open(perAddress, asUser('same-address'), false);
    await waitFor(() => user.received.includes('health.check'));

    const shared = await serverWith({ total: 5, anonymousShare: 0.4, anonymousPerAddress: 100 });
    expect((await open(shared, anonymous)).status).toBe('HTTP/1.1 101 Switching Protocols');
    expect((await open(shared, anonymous)).status).toBe('HTTP/1.1 101 Switching Protocols');
    // Past the anonymous share (2 of 5): 503, while users still have the other 3 slots.
    expect((await open(shared, anonymous)).status).toBe('HTTP/1.1 503 Service Unavailable');
    const users = [await open(shared, asUser('u1'), false), await open(shared, asUser('u2'), false), await open(shared, asUser('u3'), false)];
    await waitFor(() => users.every((raw) => raw.received.includes('health.check')));
    expect((await open(shared, asUser('u4'), false)).status).toBe('HTTP/1.1 503 Service Unavailable');
  });

  it('counts each connect against the user\'s Connect budget, and reports it in getRateLimits', async () => {
    const server = await startTestServer({ worker: false, rateLimit: { multiplier: 1, overrides: {}, userPerMinute: 2 } });
    servers.push(server);
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const raw = await open(server, asUser('reconnecting'), false);
      await waitFor(() => raw.received.includes('health.check') || raw.received.includes('"error"'));
      statuses.push(raw.received.includes('"error"') ? raw.received.toString().match(/"code":(\d+)/)![1]! : 'ok');
      raw.socket.destroy();
    }
    expect(statuses).toEqual(['ok', 'ok', '9']);
    const limits = await server.client.getRateLimits({ web: true, endpoints: 'Connect' });
    expect(limits.web!.Connect).toMatchObject({ limit: 1000, remaining: 998 });
    const all = await server.client.getRateLimits({ server_side: true });
    expect(all.server_side).toHaveProperty('Connect');
  });
});
