// Rate-limit buckets that no caller can spend for another: server-side calls count against the app's budget, user
// tokens against their user's own budget (and their platform's), and refused or anonymous requests against their
// client address, in memory.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { credentialsOf } from '../../src/auth/core.js';
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
async function appWith(rateLimit: Record<string, unknown> = {}, trustProxy = false): Promise<FastifyInstance> {
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
  });

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
});
