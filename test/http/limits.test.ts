// The input limits (README "Limits"): each breach is refused with 400 code 4 and a message naming the limit, before
// any SQL runs, and the server keeps serving; and the HTTP timeouts that keep a slow client from holding a socket.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, serverToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ http: { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 } });
  await server.client.upsertUsers([{ id: 'limited', name: 'Limited One', custom: { color: 'red' } }]);
});
afterAll(async () => {
  await server?.close();
});

/** `{"a": {"a": … value}}`, `levels` objects deep. */
function nested(levels: number, value: unknown = 1): unknown {
  let result = value;
  for (let i = 0; i < levels; i++) result = { a: result };
  return result;
}

async function expectLimit(response: { status: number; body: any }, limitName: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.body).toMatchObject({ code: 4, StatusCode: 400 });
  expect(response.body.message).toContain(limitName);
}

/** The seeded user, as a query finds it: the server still answers, and nothing was written. */
async function seededUser() {
  const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: 'limited' } } });
  return users[0];
}

describe('partial update limits', () => {
  it('refuses a 2,000-segment dotted key, again and again, and keeps serving the user unchanged', async () => {
    const key = Array(2000).fill('a').join('.');
    for (let i = 0; i < 30; i++) {
      await expectLimit(await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', set: { [key]: 'x' } }] } }), 'key segments limit is 10');
    }
    expect((await seededUser())?.custom).toEqual({ color: 'red' });
    expect((await server.request('GET', '/healthz')).status).toBe(200);
  });

  it('refuses more than 100 keys in set, and in unset', async () => {
    const set = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    await expectLimit(await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', set }] } }), 'set keys limit is 100');
    const unset = Array.from({ length: 101 }, (_, i) => `k${i}`);
    await expectLimit(await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', unset }] } }), 'unset keys limit is 100');
    // 100 is allowed.
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    expect((await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', set: hundred }] } })).status).toBe(200);
    expect((await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', unset: Object.keys(hundred) }] } })).status).toBe(200);
    expect((await seededUser())?.custom).toEqual({ color: 'red' });
  });

  it('refuses a set value that would nest custom data past 32 levels, counting the path', async () => {
    await expectLimit(
      await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', set: { 'a.b': nested(31) } }] } }),
      'custom data nesting depth limit is 32',
    );
    expect((await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', set: { 'a.b': nested(30) } }] } })).status).toBe(200);
    expect((await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', unset: ['a'] }] } })).status).toBe(200);
  });

  it('checks privacy settings before the merge runs', async () => {
    const deep = { read_receipts: nested(3000, true) };
    const response = await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'limited', set: { privacy_settings: deep } }] } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe(4);
  });

  it('applies limits set in the configuration', async () => {
    const strict = await startTestServer({ limits: { setKeys: 2 } });
    try {
      await strict.client.upsertUsers([{ id: 'strict' }]);
      await expectLimit(await strict.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'strict', set: { a: 1, b: 2, c: 3 } }] } }), 'set keys limit is 2');
    } finally {
      await strict.close();
    }
  });
});

describe('custom data depth', () => {
  it('stores custom data 32 levels deep, and refuses 33 and 700 levels with code 4', async () => {
    const ok = await server.request('POST', '/api/v2/users', { body: { users: { deep: { id: 'deep', custom: nested(32) as object } } } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    await expectLimit(
      await server.request('POST', '/api/v2/users', { body: { users: { deeper: { id: 'deeper', custom: nested(33) as object } } } }),
      'custom data nesting depth limit is 32',
    );
    // Under the 5 KB user size limit, and far too deep for the embedded database's stack.
    await expectLimit(
      await server.request('POST', '/api/v2/users', { body: { users: { deepest: { id: 'deepest', custom: nested(700) as object } } } }),
      'nesting depth limit',
    );
    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: { $in: ['deep', 'deeper', 'deepest'] } } } });
    expect(users.map((user) => user.id)).toEqual(['deep']);
  });

  it('refuses a JSON body nested past any use, with an envelope rather than a failure', async () => {
    const depth = 200_000;
    const response = await server.request('POST', '/api/v2/users', { rawBody: `${'['.repeat(depth)}${']'.repeat(depth)}` });
    await expectLimit(response, 'JSON nesting depth limit');
  });
});

describe('filter limits', () => {
  const query = (filter_conditions: object) =>
    server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions }) } });

  it('bounds $autocomplete: at most 20 words of at most 64 characters', async () => {
    await expectLimit(await query({ name: { $autocomplete: Array(21).fill('w').join(' ') } }), 'autocomplete words limit is 20');
    await expectLimit(await query({ name: { $autocomplete: 'x'.repeat(65) } }), 'autocomplete word length limit is 64');
    await expectLimit(await query({ id: { $autocomplete: 'x'.repeat(65) } }), 'autocomplete word length limit is 64');
    expect((await query({ name: { $autocomplete: Array(20).fill('w').join(' ') } })).status).toBe(200);
  });

  it('bounds every string in a filter to 1,024 characters, field names too', async () => {
    await expectLimit(await query({ color: 'x'.repeat(1025) }), 'filter string limit of 1024');
    await expectLimit(await query({ ['k'.repeat(1025)]: 1 }), 'filter string limit of 1024');
    await expectLimit(await query({ color: { $in: ['red', 'y'.repeat(2000)] } }), 'filter string limit of 1024');
    expect((await query({ color: 'x'.repeat(1024) })).status).toBe(200);
  });

  it('refuses an unknown $ operator nested inside a value', async () => {
    for (const filter of [
      { constructor: { prototype: { $foo: 1 } } },
      { color: { $in: [{ nested: { $where: 'x' } }] } },
      { settings: { a: [{ $regex: '.*' }] } },
    ]) {
      const response = await query(filter);
      expect(response.status, JSON.stringify(filter)).toBe(400);
      expect(response.body).toMatchObject({ code: 4, StatusCode: 400 });
      expect(response.body.message).toMatch(/unknown operator \$/);
    }
  });

  it('refuses a payload nested past the JSON depth limit', async () => {
    await expectLimit(await query(nested(100) as object), 'JSON nesting depth limit');
  });
});

describe('ids in paths', () => {
  it('serves a 255-character id on every /users/{id}/… route, and refuses longer ones with an envelope', async () => {
    const id = 'i'.repeat(255);
    await server.client.upsertUsers([{ id }]);
    const deactivated = await server.request('POST', `/api/v2/users/${id}/deactivate`, { body: {} });
    expect(deactivated.status).toBe(201);
    expect((await server.request('POST', `/api/v2/users/${id}/reactivate`, { body: {} })).status).toBe(201);
    expect((await server.request('GET', `/api/v2/users/${id}/export`)).status).toBe(200);

    const tooLong = await server.request('POST', `/api/v2/users/${'i'.repeat(256)}/deactivate`, { body: {} });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toMatchObject({ code: 4, StatusCode: 400 });
    const wayTooLong = await server.request('GET', `/api/v2/users/${'i'.repeat(5000)}/export`);
    expect(wayTooLong.status).toBe(414);
    expect(wayTooLong.body).toMatchObject({ code: 4, StatusCode: 414 });
    expect(wayTooLong.body.message).toContain('too long');
  });

  it('answers a malformed URL with an envelope', async () => {
    const response = await server.request('GET', '/api/v2/users/%E0%A4%A/export');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 4, StatusCode: 400 });
  });
});

describe('database errors', () => {
  it('answers a value the database cannot hold with code 4, in its own words', async () => {
    const response = await server.request('POST', '/api/v2/users', { body: { users: { nul: { id: 'nul', name: 'a\u0000b' } } } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 4, StatusCode: 400 });
    expect(response.body.message).toContain('can not be stored');
    // PostgreSQL's own wording stays in the server log.
    expect(response.body.message).not.toMatch(/unicode|escape|0x00|byte sequence/i);
  });
});

describe('slow clients', () => {
  /** Opens a raw socket, runs `feed` on it, and resolves with what the server sent once it closed the socket. */
  function slowClient(feed: (socket: net.Socket) => void): Promise<{ text: string; ms: number }> {
    const url = new URL(server.baseUrl);
    return new Promise((resolve) => {
      const started = Date.now();
      const socket = net.connect(Number(url.port), url.hostname, () => feed(socket));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('error', () => {});
      socket.on('close', () => resolve({ text, ms: Date.now() - started }));
    });
  }

  it('cuts off a client that sends its body a byte at a time, with a 408 envelope', async () => {
    const timers: NodeJS.Timeout[] = [];
    const { text, ms } = await slowClient((socket) => {
      socket.write(
        `POST /api/v2/users?api_key=${API_KEY} HTTP/1.1\r\nHost: localhost\r\nstream-auth-type: jwt\r\nAuthorization: ${serverToken()}\r\n` +
          `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
      );
      timers.push(setInterval(() => socket.writable && socket.write(' '), 300));
    });
    timers.forEach(clearInterval);
    expect(ms).toBeLessThan(8_000);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 23, StatusCode: 408 });
  });

  it('cuts off a client that never finishes its headers', async () => {
    const timers: NodeJS.Timeout[] = [];
    const { ms } = await slowClient((socket) => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
      timers.push(setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 300));
    });
    timers.forEach(clearInterval);
    expect(ms).toBeLessThan(8_000);
  });
});
