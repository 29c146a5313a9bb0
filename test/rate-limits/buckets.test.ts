// Rate-limit buckets that no caller can spend for another: server-side calls count against the app's budget, user
// tokens against their user's own budget (and their platform's), and refused or anonymous requests against their
// client address, in memory.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { credentialsOf } from '../../src/auth/core.js';
import type { TrustProxy } from '../../src/lib/network.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { API_KEY, API_SECRET, serverToken, signToken } from '../helpers/server.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

/** The middle of a one-minute window, so that no count is split by a window turning over. */
const MID_WINDOW = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;

/** An app with Stream's own limits (multiplier 1) and a clock that stands still, driven in-process. */
async function appWith(rateLimit: Record<string, unknown> = {}, trustProxy: TrustProxy | boolean = false): Promise<FastifyInstance> {
  return buildApp({
    db: database.db,
    credentials: credentialsOf(API_KEY, API_SECRET),
    rateLimit: { multiplier: 1, overrides: {}, ...rateLimit },
    trustProxy,
    now: () => MID_WINDOW,
  });
}

const userToken = (userId: string) => signToken({ user_id: userId, iat: Math.floor(Date.now() / 1000) - 5 });

function queryUsers(app: FastifyInstance, headers: Record<string, string>, apiKey = API_KEY) {
  return app.inject({ method: 'GET', url: `/api/v2/users?api_key=${apiKey}`, headers: { 'stream-auth-type': 'jwt', ...headers } });
}

/** Sends `count` requests, `batch` at a time. */
async function burst(count: number, send: () => Promise<{ statusCode: number }>, batch = 200): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (let sent = 0; sent < count; sent += batch) {
    const responses = await Promise.all(Array.from({ length: Math.min(batch, count - sent) }, send));
    for (const response of responses) statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
  }
  return statuses;
}

describe('rate-limit buckets', () => {
  it('keeps 10,000 refused requests and 1,000 calls of one user from spending the server-side budget', async () => {
    const app = await appWith();
    try {
      const bad = await burst(10_000, () => queryUsers(app, { authorization: signToken({ server: true }, { secret: 'wrong-secret' }) }));
      expect(bad.get(401)! + (bad.get(429) ?? 0)).toBe(10_000);
      // The address's own bucket ran out: the flood is answered 429, cheaply.
      expect(bad.get(429)).toBeGreaterThan(0);
      const wrongKey = await burst(1_000, () => queryUsers(app, { authorization: serverToken() }, 'not-the-key'));
      expect([...wrongKey.keys()].every((status) => status === 401 || status === 429)).toBe(true);

      const users = await burst(1_000, () => queryUsers(app, { authorization: userToken('flooder') }));
      // Stream's user limit: 60 a minute per endpoint; the rest are refused for that user alone.
      expect(users.get(200)).toBe(60);
      expect(users.get(429)).toBe(940);

      const server = await queryUsers(app, { authorization: serverToken() });
      expect(server.statusCode).toBe(200);
      expect(Number(server.headers['x-ratelimit-limit'])).toBe(1000);
      expect(Number(server.headers['x-ratelimit-remaining'])).toBe(999);
      // Another user is untouched by the flooder.
      expect((await queryUsers(app, { authorization: userToken('bystander') })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
    // 11,000 requests: about 10 s on an idle 2-core machine, three times that on a slow or busy one.
  }, 120_000);

  it('counts a user-token call against its platform and its user, and answers 429 with Retry-After', async () => {
    const app = await appWith({ userPerMinute: 3 });
    try {
      const headers = { authorization: userToken('limited-user'), 'x-stream-client': 'stream-chat-android-6.0.0' };
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await queryUsers(app, headers));
      expect(statuses.map((r) => r.statusCode)).toEqual([200, 200, 200, 429]);
      const refused = statuses[3]!;
      expect(refused.json()).toMatchObject({ code: 9, StatusCode: 429 });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    } finally {
      await app.close();
    }
  });

  it('counts refused requests per address, and takes the address from X-Forwarded-For only behind a trusted proxy', async () => {
    const bad = { authorization: signToken({ server: true }, { secret: 'wrong-secret' }) };
    const untrusted = await appWith({ addressPerMinute: 5 });
    try {
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await queryUsers(untrusted, { ...bad, 'x-forwarded-for': `10.0.0.${i}` })).statusCode);
      // Without TRUST_PROXY the header is ignored: all seven come from one address.
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    } finally {
      await untrusted.close();
    }
    const trusted = await appWith({ addressPerMinute: 5 }, true);
    try {
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await queryUsers(trusted, { ...bad, 'x-forwarded-for': `10.0.0.${i}` })).statusCode);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401]);
      const refused = await queryUsers(trusted, { ...bad, 'x-forwarded-for': '10.0.0.1' });
      expect(refused.headers['x-ratelimit-remaining']).toBe('3');
    } finally {
      await trusted.close();
    }
  });

  it('counts anonymous CreateGuest calls against the app\'s CreateGuest budget of their platform, from any address', async () => {
    const app = await appWith({ overrides: { CreateGuest: 4 } });
    try {
      const guest = (address: string, client = 'stream-chat-javascript-client-browser-9.0.0') =>
        app.inject({
          method: 'POST',
          url: `/api/v2/guest?api_key=${API_KEY}`,
          remoteAddress: address,
          headers: { 'stream-auth-type': 'anonymous', 'content-type': 'application/json', 'x-stream-client': client },
          payload: { user: { id: 'visitor' } },
        });
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await guest(`198.51.100.${i}`)).statusCode);
      // Six addresses, one app: the app's web budget of 4 holds.
      expect(statuses).toEqual([201, 201, 201, 201, 429, 429]);
      // Another platform has its own budget.
      expect((await guest('198.51.100.77', 'stream-chat-android-6.0.0')).statusCode).toBe(201);
      const report = await app.inject({ method: 'GET', url: `/api/v2/rate_limits?api_key=${API_KEY}&endpoints=CreateGuest`, headers: { 'stream-auth-type': 'jwt', authorization: serverToken() } });
      expect(report.json().web.CreateGuest).toMatchObject({ limit: 4, remaining: 0 });
      expect(report.json().android.CreateGuest).toMatchObject({ limit: 4, remaining: 3 });
    } finally {
      await app.close();
    }
  });

  it('counts a user\'s calls per platform: a user over its limit on one platform is within it on another', async () => {
    const app = await appWith({ userPerMinute: 2 });
    try {
      const on = (client: string) => queryUsers(app, { authorization: userToken('two-devices'), 'x-stream-client': client });
      const web = [];
      for (let i = 0; i < 3; i++) web.push((await on('stream-chat-javascript-client-browser-9.0.0')).statusCode);
      expect(web).toEqual([200, 200, 429]);
      expect((await on('stream-chat-swift-4.0.0')).statusCode).toBe(200);
      expect((await on('stream-chat-android-6.0.0')).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('takes the right-most address no trusted proxy wrote: a client cannot pick its own address', async () => {
    const bad = { authorization: signToken({ server: true }, { secret: 'wrong-secret' }) };
    for (const trust of [true, 1, ['127.0.0.1']] as const) {
      const app = await appWith({ addressPerMinute: 3 }, trust as TrustProxy | boolean);
      try {
        const statuses = [];
        // The client writes whatever it likes left of the address the proxy appends.
        for (let i = 0; i < 5; i++) statuses.push((await queryUsers(app, { ...bad, 'x-forwarded-for': `10.9.${i}.1, 203.0.113.9` })).statusCode);
        expect(statuses, String(trust)).toEqual([401, 401, 401, 429, 429]);
        expect((await queryUsers(app, { ...bad, 'x-forwarded-for': '203.0.113.10' })).statusCode).toBe(401);
      } finally {
        await app.close();
      }
    }
    // Two proxies (a list of addresses and CIDRs): the client is the entry left of the trusted ones.
    const chained = await appWith({ addressPerMinute: 2 }, ['127.0.0.1', '10.0.0.0/8']);
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await queryUsers(chained, { ...bad, 'x-forwarded-for': `172.16.0.${i}, 198.51.100.7, 10.1.1.${i}` })).statusCode);
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await chained.close();
    }
  });

  it('counts IPv6 clients per /64', async () => {
    const bad = { authorization: signToken({ server: true }, { secret: 'wrong-secret' }) };
    const app = await appWith({ addressPerMinute: 2 });
    try {
      const from = (remoteAddress: string) =>
        app.inject({ method: 'GET', url: `/api/v2/users?api_key=${API_KEY}`, remoteAddress, headers: { 'stream-auth-type': 'jwt', ...bad } });
      const statuses = [];
      for (const address of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:0db8:0001:0002:abcd::1']) statuses.push((await from(address)).statusCode);
      expect(statuses).toEqual([401, 401, 429]);
      // Another /64 is another client; an IPv4-mapped address is its IPv4 one.
      expect((await from('2001:db8:1:3::1')).statusCode).toBe(401);
      expect((await from('::ffff:192.0.2.1')).statusCode).toBe(401);
      expect((await from('192.0.2.1')).statusCode).toBe(401);
      expect((await from('192.0.2.1')).statusCode).toBe(429);
    } finally {
      await app.close();
    }
  });
});
