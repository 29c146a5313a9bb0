// Stream's wire conventions, seen at the HTTP level: status codes, the error envelope, rate-limit headers,
// integer-nanosecond timestamps, and the parsing quirks the SDK relies on.
import { randomBytes } from 'node:crypto';
import { StreamClient } from '@stream-io/node-sdk';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, API_SECRET, serverToken, startTestServer, type TestServer } from '../helpers/server.js';

const ENVELOPE_KEYS = ['StatusCode', 'code', 'details', 'duration', 'message', 'more_info'];

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.client.upsertUsers([{ id: 'existing', name: 'Existing' }]);
});
afterAll(async () => {
  await server?.close();
});

type Raw = Awaited<ReturnType<TestServer['request']>>;

function expectEnvelope(response: Raw, status: number, code: number, operation?: string) {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(response.body).sort()).toEqual(ENVELOPE_KEYS);
  expect(response.body.code).toBe(code);
  expect(response.body.StatusCode).toBe(status);
  expect(typeof response.body.duration).toBe('string');
  expect(response.body.more_info).toBe('https://getstream.io/chat/docs/api_errors_response');
  expect(response.body.details).toEqual([]);
  expect(response.body.message).toMatch(operation ? new RegExp(`^${operation} failed with error: ".*"$`, 's') : /^\w+ failed with error: ".*"$/s);
}

function expectRateLimitHeaders(headers: Headers) {
  for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
    expect(headers.get(name), name).toMatch(/^\d+$/);
  }
  const reset = Number(headers.get('x-ratelimit-reset'));
  // Unix seconds, within the coming minute.
  expect(reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
  expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 61);
}

/** fetch with a hand-made path (new URL() would read "//api" as a host). */
async function rawFetch(path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.baseUrl}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : undefined };
}

describe('error envelope', () => {
  it('answers an unknown route with 404 and exactly the envelope keys, before any credential check', async () => {
    const withAuth = await server.request('GET', '/api/v2/no-such-thing');
    expectEnvelope(withAuth, 404, 16);
    const noAuth = await rawFetch('/api/v2/no-such-thing');
    expectEnvelope(noAuth, 404, 16);
    const outside = await rawFetch('/nothing/here');
    expectEnvelope(outside, 404, 16);
    // A known path with a method it does not serve.
    const wrongMethod = await server.request('DELETE', '/api/v2/users');
    expect(wrongMethod.status).toBe(404);
    expect(Object.keys(wrongMethod.body).sort()).toEqual(ENVELOPE_KEYS);
  });

  it('answers malformed JSON with 400 code 4', async () => {
    const response = await server.request('POST', '/api/v2/users', { rawBody: '{"users": {' });
    expectEnvelope(response, 400, 4, 'UpdateUsers');
    const patch = await server.request('PATCH', '/api/v2/users', { rawBody: 'not json at all' });
    expectEnvelope(patch, 400, 4, 'UpdateUsersPartial');
  });

  it('answers a body over 1 MiB with 413 code 22', async () => {
    const big = JSON.stringify({ users: { big: { id: 'big', custom: { blob: 'x'.repeat(1024 * 1024) } } } });
    const response = await server.request('POST', '/api/v2/users', { rawBody: big });
    expectEnvelope(response, 413, 22, 'UpdateUsers');
    // Just under the limit is parsed (and then refused for the 5 KB user limit, with code 4).
    const underLimit = JSON.stringify({ users: { big: { id: 'big', custom: { blob: 'x'.repeat(1024 * 1024 - 100) } } } });
    expectEnvelope(await server.request('POST', '/api/v2/users', { rawBody: underLimit }), 400, 4, 'UpdateUsers');
  });

  it('answers a schema failure with 400 code 4', async () => {
    expectEnvelope(await server.request('POST', '/api/v2/users', { body: { users: 'nope' } }), 400, 4, 'UpdateUsers');
    expectEnvelope(await server.request('POST', '/api/v2/users', { body: {} }), 400, 4, 'UpdateUsers');
    expectEnvelope(await server.request('PATCH', '/api/v2/users', { body: { users: [{ set: {} }] } }), 400, 4, 'UpdateUsersPartial');
    expectEnvelope(await server.request('POST', '/api/v2/guest', { body: { user: { id: 42 } } }), 400, 4, 'CreateGuest');
    // POST with an empty body: nothing to upsert.
    expectEnvelope(await server.request('POST', '/api/v2/users', { headers: { 'content-type': 'application/json' } }), 400, 4, 'UpdateUsers');
  });

  it.each([
    ['a NUL character in a name', 'POST', '/api/v2/users', { users: { nul: { id: 'nul', name: 'a\u0000b' } } }],
    ['a NUL character in custom data', 'POST', '/api/v2/users', { users: { nul: { id: 'nul', custom: { k: 'a\u0000b' } } } }],
    ['a NUL character in a partial update', 'PATCH', '/api/v2/users', { users: [{ id: 'existing', set: { name: 'a\u0000b' } }] }],
    ['a NUL character in a guest', 'POST', '/api/v2/guest', { user: { id: 'nul', name: 'a\u0000b' } }],
    ['a name too long for its index', 'POST', '/api/v2/users', { users: { long: { id: 'long', name: randomBytes(3000).toString('base64') } } }],
    ['a role too long for its index', 'PATCH', '/api/v2/users', { users: [{ id: 'existing', set: { role: randomBytes(3000).toString('base64') } }] }],
  ])('answers %s with 400 code 4 and writes nothing', async (_label, method, path, body) => {
    const before = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: {}, limit: 100 }) } });
    const response = await server.request(method, path, { body });
    expectEnvelope(response, 400, 4);
    const after = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: {}, limit: 100 }) } });
    expect(after.body.users).toEqual(before.body.users);
  });

  it('answers a lone surrogate (valid JSON, not storable) with 400 code 4', async () => {
    const response = await server.request('POST', '/api/v2/users', { rawBody: '{"users":{"s":{"id":"s","name":"\\ud800"}}}' });
    expectEnvelope(response, 400, 4, 'UpdateUsers');
  });

  it('answers filter values the database cannot compare with 400 code 4', async () => {
    for (const filter_conditions of [{ id: 'a\u0000b' }, { color: 'a\u0000b' }, { name: { $in: ['x', 'a\u0000b'] } }]) {
      const response = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions }) } });
      expectEnvelope(response, 400, 4, 'QueryUsers');
    }
  });

  // Node's default header limit (16 KiB) is too small for a query URL with, e.g., $in over 100 long ids.
  it('accepts a query URL far over 16 KiB', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `user-${'x'.repeat(150)}-${i}`);
    const response = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: { id: { $in: ids } } }) } });
    expect(response.status).toBe(200);
  });

  it('answers headers over the limit with 431 code 24 in the Stream envelope', async () => {
    const response = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: { id: 'x'.repeat(200_000) } }) } });
    expect(response.status).toBe(431);
    expect(Object.keys(response.body).sort()).toEqual(ENVELOPE_KEYS);
    expect(response.body).toMatchObject({ code: 24, StatusCode: 431 });
  });

  it('answers an internal failure with 500 code -1, never the error itself', async () => {
    const broken = await startTestServer();
    try {
      await sql`ALTER TABLE users RENAME TO users_moved`.execute(broken.database.db);
      const response = await broken.request('GET', '/api/v2/users');
      expectEnvelope(response, 500, -1, 'QueryUsers');
      expect(response.text).not.toContain('users_moved');
      expect(response.text).not.toMatch(/relation|does not exist/);
      expectRateLimitHeaders(response.headers);
    } finally {
      await sql`ALTER TABLE users_moved RENAME TO users`.execute(broken.database.db);
      await broken.close();
    }
  });
});

describe('requests and responses', () => {
  it('answers POST with 201 and GET/PATCH with 200, each with a string duration', async () => {
    const post = await server.request('POST', '/api/v2/users', { body: { users: { codes: { id: 'codes' } } } });
    expect(post.status).toBe(201);
    expect(typeof post.body.duration).toBe('string');
    const patch = await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'codes', set: { a: 1 } }] } });
    expect(patch.status).toBe(200);
    expect(typeof patch.body.duration).toBe('string');
    const get = await server.request('GET', '/api/v2/users');
    expect(get.status).toBe(200);
    expect(typeof get.body.duration).toBe('string');
    const guest = await server.request('POST', '/api/v2/guest', { body: { user: { id: 'codes' } } });
    expect(guest.status).toBe(201);
    const block = await server.request('POST', '/api/v2/users/block', { body: { user_id: 'codes', blocked_user_id: 'existing' } });
    expect(block.status).toBe(201);
    const unblock = await server.request('POST', '/api/v2/users/unblock', { body: { user_id: 'codes', blocked_user_id: 'existing' } });
    expect(unblock.status).toBe(201);
    expect(Object.keys(unblock.body)).toEqual(['duration']);
    const blocks = await server.request('GET', '/api/v2/users/block', { query: { user_id: 'codes' } });
    expect(blocks.status).toBe(200);
    // No top-level `metadata` key: the SDK would shadow it.
    for (const response of [post, patch, get, guest, block, unblock, blocks]) expect(response.body).not.toHaveProperty('metadata');
  });

  it('tolerates Content-Type: application/json with an empty body on GET', async () => {
    const response = await server.request('GET', '/api/v2/users', {
      headers: { 'content-type': 'application/json' },
      query: { payload: JSON.stringify({ filter_conditions: { id: 'existing' } }) },
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.users.map((u: { id: string }) => u.id)).toEqual(['existing']);
    const blocks = await server.request('GET', '/api/v2/users/block', { headers: { 'content-type': 'application/json' }, query: { user_id: 'existing' } });
    expect(blocks.status, blocks.text).toBe(200);
  });

  it('tolerates duplicate slashes in paths, and an SDK basePath with a trailing slash', async () => {
    const headers = { 'stream-auth-type': 'jwt', authorization: serverToken() };
    const response = await rawFetch(`//api/v2/users?api_key=${API_KEY}`, { headers });
    expect(response.status, response.text).toBe(200);
    expect(Array.isArray(response.body.users)).toBe(true);
    const inner = await rawFetch(`/api//v2//users?api_key=${API_KEY}`, { headers });
    expect(inner.status, inner.text).toBe(200);

    const client = new StreamClient(API_KEY, API_SECRET, { basePath: `${server.baseUrl}/`, timeout: 10_000 });
    const queried = await client.queryUsers({ payload: { filter_conditions: { id: 'existing' } } });
    expect(queried.users.map((u) => u.id)).toEqual(['existing']);
    const upserted = await client.upsertUsers([{ id: 'slashes' }]);
    expect(upserted.users.slashes!.id).toBe('slashes');
  });

  it('writes date-times as exact integer nanoseconds', async () => {
    // Sub-millisecond digits make float rounding visible: 2024-01-02T03:04:05.123456Z.
    await server.database.db.updateTable('users').set({ created_at: '2024-01-02T03:04:05.123456Z' }).where('id', '=', 'existing').execute();
    const response = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: { id: 'existing' } }) } });
    expect(response.text).toContain('"created_at":1704164645123456000');
    const updated = /"updated_at":(-?[\d.eE+]+)/.exec(response.text)![1]!;
    expect(updated).toMatch(/^\d{19}$/);
    expect(updated.endsWith('000')).toBe(true);
    // What the SDK makes of it.
    const decoded = await server.client.queryUsers({ payload: { filter_conditions: { id: 'existing' } } });
    expect(decoded.users[0]!.created_at.toISOString()).toBe('2024-01-02T03:04:05.123Z');
  });
});

describe('rate limiting', () => {
  it('sends the X-RateLimit headers on every response that counts against a bucket, success and error', async () => {
    const responses = [
      await server.request('GET', '/api/v2/users'),
      await server.request('POST', '/api/v2/users', { body: { users: { rl: { id: 'rl' } } } }),
      await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'missing-user', set: { a: 1 } }] } }),
      await server.request('POST', '/api/v2/users', { rawBody: '{' }),
      await server.request('POST', '/api/v2/users', { rawBody: JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 1) }) }),
      await server.request('GET', '/api/v2/users', { query: { api_key: 'wrong' } }),
      await server.request('GET', '/api/v2/users', { headers: { 'stream-auth-type': '' } }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 201, 404, 400, 413, 401, 401]);
    for (const response of responses) expectRateLimitHeaders(response.headers);
    // An unknown route is no operation: it counts against nothing, and says nothing of limits.
    const unknown = await server.request('GET', '/api/v2/unknown-route');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('counts down X-RateLimit-Remaining per endpoint', async () => {
    const first = await server.request('GET', '/api/v2/users/block', { query: { user_id: 'existing' } });
    const second = await server.request('GET', '/api/v2/users/block', { query: { user_id: 'existing' } });
    const limit = Number(first.headers.get('x-ratelimit-limit'));
    expect(limit).toBeGreaterThan(0);
    const remaining = [first, second].map((r) => Number(r.headers.get('x-ratelimit-remaining')));
    // Unless the minute turned in between, the second request has one less left.
    if (first.headers.get('x-ratelimit-reset') === second.headers.get('x-ratelimit-reset')) {
      expect(remaining[1]).toBe(remaining[0]! - 1);
    }
    // Query limits: 100× Stream's 1000 per minute by default.
    expect(Number((await server.request('GET', '/api/v2/users')).headers.get('x-ratelimit-limit'))).toBe(100_000);
    expect(Number((await server.request('PATCH', '/api/v2/users', { body: { users: [] } })).headers.get('x-ratelimit-limit'))).toBe(30_000);
  });

  it('answers 429 code 9 with Retry-After past the limit, and the SDK sees metadata.rateLimit', async () => {
    const limited = await startTestServer({ rateLimit: { multiplier: 1, overrides: { QueryUsers: 2 } } });
    try {
      // The window is the calendar minute: do not straddle its end.
      const msToNextMinute = 60_000 - (Date.now() % 60_000);
      if (msToNextMinute < 10_000) await new Promise((resolve) => setTimeout(resolve, msToNextMinute + 100));

      const first = await limited.client.queryUsers();
      expect(first.metadata.rateLimit).toMatchObject({ rateLimit: 2, rateLimitRemaining: 1 });
      expect(first.metadata.rateLimit.rateLimitReset).toBeInstanceOf(Date);
      const second = await limited.request('GET', '/api/v2/users');
      expect(second.status).toBe(200);
      expect(second.headers.get('x-ratelimit-remaining')).toBe('0');

      const third = await limited.request('GET', '/api/v2/users');
      expectEnvelope(third, 429, 9, 'QueryUsers');
      expectRateLimitHeaders(third.headers);
      expect(third.headers.get('x-ratelimit-limit')).toBe('2');
      expect(third.headers.get('x-ratelimit-remaining')).toBe('0');
      const retryAfter = Number(third.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);

      const error = await limited.client.queryUsers().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 9, metadata: { responseCode: 429, rateLimit: { rateLimit: 2, rateLimitRemaining: 0 } } });
      expect((error as { metadata: { rateLimit: { rateLimitReset: unknown } } }).metadata.rateLimit.rateLimitReset).toBeInstanceOf(Date);

      // Limits are per endpoint: other operations still go through, with their own (1×) limits.
      const upsert = await limited.client.upsertUsers([{ id: 'still-allowed' }]);
      expect(upsert.metadata.rateLimit.rateLimit).toBe(300);
      // And per server instance: the main test server is unaffected.
      expect((await server.request('GET', '/api/v2/users')).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('health endpoints', () => {
  it('answers /healthz and /readyz without credentials', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await rawFetch(path);
      expect(response.status, path).toBe(200);
      expect(response.body).toMatchObject({ status: 'ok' });
    }
    // Notifications arrive (PostgreSQL: the LISTEN connections passed their checks; PGlite: in-process).
    expect((await rawFetch('/readyz')).body).toMatchObject({ notifications: 'listening' });
  });
});
