// GetRateLimits through node-sdk (GET /api/v2/rate_limits) and stream-chat (GET /rate_limits): every platform's
// budgets by default, only the platforms asked for otherwise, exactly the endpoints named (served here or not), and
// what is left of each, the call itself counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverSideChat } from '../helpers/stream-chat.js';
import { signToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false, rateLimit: { multiplier: 1, overrides: {} } });
});
afterAll(async () => {
  await server?.close();
});

const SECTIONS = ['server_side', 'android', 'ios', 'web', 'unity'];

describe('getRateLimits', () => {
  it('answers every platform with every operation by default, each {limit, remaining, reset}', async () => {
    const response = await server.client.getRateLimits();
    expect(Object.keys(response).filter((key) => SECTIONS.includes(key)).sort()).toEqual([...SECTIONS].sort());
    const query = response.server_side!.QueryUsers!;
    expect(query.limit).toBe(1000);
    expect(query.remaining).toBeLessThanOrEqual(query.limit);
    expect(query.reset).toBeGreaterThan(Date.now() / 1000);
    expect(query.reset).toBeLessThanOrEqual(Date.now() / 1000 + 61);
    expect(Object.keys(response.web!)).toEqual(expect.arrayContaining(['QueryUsers', 'UpdateUsers', 'DeactivateUsers', 'GetRateLimits']));
  });

  it('lists exactly the endpoints named, those this server does not serve included, and only the platforms asked for', async () => {
    const response = await server.client.getRateLimits({ server_side: true, web: true, endpoints: 'GetRateLimits,SendMessage' });
    expect(Object.keys(response).filter((key) => SECTIONS.includes(key)).sort()).toEqual(['server_side', 'web']);
    expect(Object.keys(response.server_side!).sort()).toEqual(['GetRateLimits', 'SendMessage']);
    expect(Object.keys(response.web!).sort()).toEqual(['GetRateLimits', 'SendMessage']);
    expect(response.web!.SendMessage).toMatchObject({ limit: 1000, remaining: 1000 });
  });

  it('counts itself: server_side.GetRateLimits goes down, an unused platform is untouched', async () => {
    await server.client.getRateLimits({ server_side: true, endpoints: 'GetRateLimits' });
    const response = await server.client.getRateLimits({ endpoints: 'GetRateLimits' });
    const used = response.server_side!.GetRateLimits!;
    expect(used.remaining).toBeLessThan(used.limit);
    expect(response.android!.GetRateLimits).toMatchObject({ remaining: response.android!.GetRateLimits!.limit });
  });

  it("reports a platform's budget spent by user-token calls of that platform", async () => {
    const token = signToken({ user_id: 'phone-user', iat: Math.floor(Date.now() / 1000) - 5 });
    // Windows are whole wall-clock minutes: calls that straddle a minute's end are counted in two windows, so such a
    // try is made again, in the window that has just begun.
    const minute = () => Math.floor(Date.now() / 60_000);
    for (let attempt = 1; ; attempt++) {
      const started = minute();
      for (let i = 0; i < 3; i++) {
        const answer = await server.request('GET', '/api/v2/users', { headers: { authorization: token, 'x-stream-client': 'stream-chat-android-6.4.0' } });
        expect(answer.status).toBe(200);
      }
      const response = await server.client.getRateLimits({ android: true, ios: true, endpoints: 'QueryUsers' });
      if (minute() !== started && attempt === 1) continue;
      expect(response.android!.QueryUsers).toMatchObject({ limit: 1000, remaining: 997 });
      expect(response.ios!.QueryUsers).toMatchObject({ limit: 1000, remaining: 1000 });
      break;
    }
  });

  it('is served on the v1 path for stream-chat and for Python-style flags', async () => {
    const chat = serverSideChat(server);
    const response = (await chat.getRateLimits({ serverSide: true, endpoints: ['QueryUsers', 'SendMessage'] as never })) as unknown as Record<
      string,
      Record<string, { limit: number; remaining: number; reset: number }>
    >;
    expect(Object.keys(response.server_side!).sort()).toEqual(['QueryUsers', 'SendMessage']);
    expect(response).not.toHaveProperty('web');
    // Stream's Python client writes booleans as True/False.
    const python = await server.request('GET', '/rate_limits', { query: { server_side: 'True', android: 'False', endpoints: 'GetRateLimits,SendMessage' } });
    expect(python.status).toBe(200);
    expect(Object.keys(python.body).filter((key) => SECTIONS.includes(key))).toEqual(['server_side']);
    expect(Object.keys(python.body.server_side)).toHaveLength(2);
  });

  it('is server-side only', async () => {
    const refused = await server.request('GET', '/api/v2/rate_limits', { headers: { authorization: signToken({ user_id: 'someone', iat: 1 }) } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe(17);
  });
});
