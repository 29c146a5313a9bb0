// WebSocket connect (`/connect`) through the real stream-chat client, and raw `ws` checks of what the SDK hides.
import { sql } from 'kysely';
import { StreamChat } from 'stream-chat';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectPortFor, listenConnect } from '../../src/connect/plugin.js';
import { API_KEY, API_SECRET, signToken, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
/** stream-chat server-side (with the secret): createToken makes user tokens. */
let serverSide: StreamChat;
const clients: StreamChat[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  server = await startTestServer({ worker: false });
  // The app's settings row, as resolveCredentials makes it when the server starts (startTestServer does not call it).
  await sql`INSERT INTO app_settings (id) VALUES (1) ON CONFLICT DO NOTHING`.execute(server.database.db);
  serverSide = new StreamChat(API_KEY, API_SECRET, { baseURL: server.baseUrl });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.disconnectUser(200).catch(() => {})));
  for (const ws of sockets.splice(0)) ws.terminate();
});
afterAll(async () => {
  await server?.close();
});

/** A client-side stream-chat client pointed at the test server. */
function clientSide(apiKey = API_KEY): StreamChat {
  const client = new StreamChat(apiKey, { baseURL: server.baseUrl, allowServerSideConnect: true });
  clients.push(client);
  return client;
}

async function storedUser(id: string) {
  const response = await server.client.queryUsers({ payload: { filter_conditions: { id }, include_deactivated_users: true } });
  return response.users[0];
}

async function connectionCount(userId?: string): Promise<number> {
  const result = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM user_connections WHERE ${userId === undefined ? sql`true` : sql`user_id = ${userId}`}`.execute(
    server.database.db,
  );
  return result.rows[0]!.n;
}

async function count(table: 'users' | 'user_activity' | 'user_connections'): Promise<number> {
  const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(server.database.db);
  return result.rows[0]!.n;
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The error stream-chat rejects with: `new Error(JSON.stringify({code, StatusCode, message, isWSFailure}))`. */
async function rejection(promise: Promise<unknown>): Promise<{ code: unknown; StatusCode: unknown; message: string; isWSFailure: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { ...JSON.parse((error as Error).message), ms: Date.now() - started };
  }
  throw new Error('expected the connection to be rejected');
}

interface RawConnection {
  ws: WebSocket;
  /** The next text frame, parsed. */
  next(): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
}

function rawConnect(
  params: { json?: unknown; api_key?: string; authorization?: string; 'stream-auth-type'?: string },
  options: { base?: string; path?: string; autoPong?: boolean } = {},
): RawConnection {
  const url = new URL(options.path ?? '/connect', (options.base ?? server.baseUrl).replace('http', 'ws'));
  const query = { api_key: API_KEY, 'stream-auth-type': 'jwt', ...params };
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, typeof value === 'string' ? value : JSON.stringify(value));
  }
  const ws = new WebSocket(url, { autoPong: options.autoPong ?? true });
  sockets.push(ws);
  const queue: any[] = [];
  const waiting: Array<(frame: any) => void> = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    const waiter = waiting.shift();
    if (waiter) waiter(frame);
    else queue.push(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('error', () => {});
  return {
    ws,
    closed,
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no frame within 5 s')), 5_000);
            waiting.push((frame) => {
              clearTimeout(timer);
              resolve(frame);
            });
          }),
  };
}

function userParams(userId: string, details: Record<string, unknown> = {}, token = serverSide.createToken(userId)) {
  return { json: { user_id: userId, user_details: { id: userId, ...details }, client_request_id: 'r1' }, authorization: token };
}

describe('connectUser (stream-chat)', () => {
  it('connects, creates the user from the details sent, and reports it online while connected', async () => {
    const client = clientSide();
    const response = (await client.connectUser({ id: 'alice', name: 'Alice', color: 'red' } as never, serverSide.createToken('alice'))) as any;

    expect(response.type).toBe('health.check');
    expect(typeof response.connection_id).toBe('string');
    expect(client.user).toMatchObject({ id: 'alice', name: 'Alice', color: 'red', role: 'user', online: true });
    expect(client._getConnectionID()).toBe(response.connection_id);

    const stored = await storedUser('alice');
    expect(stored).toMatchObject({ id: 'alice', name: 'Alice', role: 'user', custom: { color: 'red' } });
    expect(stored!.last_active).toBeInstanceOf(Date);
    expect(Math.abs(stored!.last_active!.getTime() - Date.now())).toBeLessThan(60_000);
    expect(await connectionCount('alice')).toBe(1);
    expect(stored!.online).toBe(true);

    await client.disconnectUser();
    await waitFor(async () => (await connectionCount('alice')) === 0);
    expect((await storedUser('alice'))!.online).toBe(false);
  });

  it('applies client-side rules: role, teams and teams_role sent by the client are ignored', async () => {
    const client = clientSide();
    await client.connectUser(
      { id: 'mallory', name: 'M', role: 'admin', teams: ['blue'], teams_role: { blue: 'admin' }, created_at: '2001-01-01T00:00:00Z' } as never,
      serverSide.createToken('mallory'),
    );
    expect(client.user).toMatchObject({ id: 'mallory', role: 'user', teams: [] });
    const stored = await storedUser('mallory');
    expect(stored).toMatchObject({ role: 'user', teams: [], custom: {} });
    expect(stored!.teams_role).toBeUndefined();
    expect(stored!.created_at.getFullYear()).not.toBe(2001);

    // An existing admin stays an admin, whatever the client claims.
    await server.client.updateUsers({ users: { boss: { id: 'boss', role: 'admin', teams: ['red'] } } });
    const bossClient = clientSide();
    await bossClient.connectUser({ id: 'boss', role: 'user', teams: [] } as never, serverSide.createToken('boss'));
    expect(bossClient.user).toMatchObject({ role: 'admin', teams: ['red'] });
    expect(await storedUser('boss')).toMatchObject({ role: 'admin', teams: ['red'] });
  });

  it('merges only the fields sent: reconnecting with fewer fields keeps the custom data stored before', async () => {
    await server.client.updateUsers({
      users: { carol: { id: 'carol', name: 'Carol', image: 'https://x/c.png', custom: { color: 'red', size: 3, nested: { a: 1 } } } },
    });
    const first = clientSide();
    await first.connectUser({ id: 'carol', size: 4, 'dotted.key': true } as never, serverSide.createToken('carol'));
    expect(first.user).toMatchObject({ name: 'Carol', image: 'https://x/c.png', color: 'red', size: 4, nested: { a: 1 }, 'dotted.key': true });
    await first.disconnectUser();

    const before = await storedUser('carol');
    expect(before).toMatchObject({ name: 'Carol', custom: { color: 'red', size: 4, nested: { a: 1 }, 'dotted.key': true } });

    // Same details again: nothing changes, nothing is written (updated_at stays).
    const second = clientSide();
    await second.connectUser({ id: 'carol', size: 4, name: null } as never, serverSide.createToken('carol'));
    const after = await storedUser('carol');
    expect(after).toMatchObject({ name: 'Carol', custom: { color: 'red', size: 4, nested: { a: 1 } } });
    expect(after!.updated_at.getTime()).toBe(before!.updated_at.getTime());
  });

  it('serializes concurrent first connections of a user: each merges its fields, none replaces another', async () => {
    const token = serverSide.createToken('rush');
    const connections = Array.from({ length: 6 }, (_, i) => rawConnect(userParams('rush', { [`f${i}`]: i }, token)));
    const frames = await Promise.all(connections.map((connection) => connection.next()));
    expect(frames.every((frame) => frame.type === 'health.check')).toBe(true);
    const stored = await storedUser('rush');
    expect(stored!.custom).toEqual({ f0: 0, f1: 1, f2: 2, f3: 3, f4: 4, f5: 5 });
    expect(await connectionCount('rush')).toBe(6);
  });

  it('holds a name sent on connect to the unique-username rule (code 6)', async () => {
    await server.client.updateUsers({ users: { 'name-owner': { id: 'name-owner', name: 'Unique Name' } } });
    await sql`UPDATE app_settings SET enforce_unique_usernames = 'app' WHERE id = 1`.execute(server.database.db);
    try {
      const error = await rejection(clientSide().connectUser({ id: 'name-taker', name: 'unique_name' }, serverSide.createToken('name-taker')));
      expect(error).toMatchObject({ code: 6, isWSFailure: false });
      expect(error.message).toContain("username 'unique_name' already exists");
      expect(await storedUser('name-taker')).toBeUndefined();

      // Without a name, or with the name it already has, the user connects.
      const client = clientSide();
      await client.connectUser({ id: 'name-owner', name: 'Unique Name' }, serverSide.createToken('name-owner'));
      expect(client.user).toMatchObject({ name: 'Unique Name' });
    } finally {
      await sql`UPDATE app_settings SET enforce_unique_usernames = 'no' WHERE id = 1`.execute(server.database.db);
    }
  });

  it("lets a guest connect with the token POST /guest returned, keeping the guest's role", async () => {
    const guest = await server.client.createGuest({ user: { id: 'visitor', name: 'V' } });
    const client = clientSide();
    await client.connectUser({ id: guest.user.id, name: 'Visitor' }, guest.access_token);
    expect(client.user).toMatchObject({ id: guest.user.id, role: 'guest', name: 'Visitor' });
    expect(await storedUser(guest.user.id)).toMatchObject({ role: 'guest', name: 'Visitor' });
  });

  it('rejects a deactivated user at once (code 5), and accepts them again after reactivation', async () => {
    await server.client.updateUsers({ users: { dave: { id: 'dave', name: 'Dave' } } });
    await server.client.deactivateUser({ user_id: 'dave' });

    const client = clientSide();
    const error = await rejection(client.connectUser({ id: 'dave', name: 'Dave' }, serverSide.createToken('dave')));
    expect(error).toMatchObject({ code: 5, StatusCode: 401, isWSFailure: false });
    expect(error.message).toContain('Connect failed with error: "user "dave" was deactivated"');
    expect(error.ms).toBeLessThan(3_000); // not stream-chat's ~15 s of retries
    expect(await connectionCount('dave')).toBe(0);

    await server.client.reactivateUser({ user_id: 'dave' });
    const again = clientSide();
    await again.connectUser({ id: 'dave', name: 'Dave' }, serverSide.createToken('dave'));
    expect(again.user).toMatchObject({ id: 'dave' });
  });

  it('rejects a deleted user (code 5)', async () => {
    await server.client.updateUsers({ users: { gone: { id: 'gone' } } });
    await sql`UPDATE users SET deleted_at = now() WHERE id = 'gone'`.execute(server.database.db);
    const error = await rejection(clientSide().connectUser({ id: 'gone' }, serverSide.createToken('gone')));
    expect(error).toMatchObject({ code: 5, isWSFailure: false });
    expect(error.message).toContain('was deleted');
  });

  it('rejects a token with a bad signature (code 43) and a wrong api_key (code 2), at once', async () => {
    const forged = signToken({ user_id: 'eve' }, { secret: `${API_SECRET}-not` });
    const bad = await rejection(clientSide().connectUser({ id: 'eve' }, forged));
    expect(bad).toMatchObject({ code: 43, StatusCode: 401, isWSFailure: false });
    expect(bad.message).toContain('signature is not valid');
    expect(bad.ms).toBeLessThan(3_000);

    const wrongKey = await rejection(clientSide('not-the-key').connectUser({ id: 'eve' }, serverSide.createToken('eve')));
    expect(wrongKey).toMatchObject({ code: 2, StatusCode: 401, isWSFailure: false });
    expect(wrongKey.message).toContain('Connect failed with error: "api_key is invalid"');
    expect(await storedUser('eve')).toBeUndefined();
  });

  it('rejects a revoked token (code 40), and accepts one issued after the cut-off', async () => {
    await server.client.updateUsers({ users: { frank: { id: 'frank' } } });
    const now = Math.floor(Date.now() / 1000);
    await server.client.updateUsersPartial({
      users: [{ id: 'frank', set: { revoke_tokens_issued_before: new Date((now - 60) * 1000).toISOString() } }],
    });
    const noIat = await rejection(clientSide().connectUser({ id: 'frank' }, serverSide.createToken('frank')));
    expect(noIat).toMatchObject({ code: 40, isWSFailure: false });
    const old = await rejection(clientSide().connectUser({ id: 'frank' }, serverSide.createToken('frank', undefined, now - 120)));
    expect(old).toMatchObject({ code: 40, isWSFailure: false });

    const client = clientSide();
    await client.connectUser({ id: 'frank' }, serverSide.createToken('frank', undefined, now - 1));
    expect(client.user).toMatchObject({ id: 'frank' });
  });
});

describe('connectAnonymousUser (stream-chat)', () => {
  it('connects as the anonymous user and writes nothing', async () => {
    // Connections of earlier tests may still be closing: compare the tables this one could write to, and look for
    // a connection row of the anonymous user itself.
    const before = { users: await count('users'), activity: await count('user_activity') };
    const client = clientSide();
    const response = (await client.connectAnonymousUser()) as any;
    expect(response).toMatchObject({ type: 'health.check', cid: '*', me: { id: '!anon', role: 'anonymous' } });
    expect(client.user).toMatchObject({ id: '!anon', role: 'anonymous', mutes: [], channel_mutes: [], blocked_user_ids: [] });
    expect({ users: await count('users'), activity: await count('user_activity') }).toEqual(before);
    const anonymousRows = await server.database.db
      .selectFrom('user_connections')
      .select('id')
      .where('user_id', 'in', ['!anon', client.userID!])
      .execute();
    expect(anonymousRows).toEqual([]);
    expect(server.app.connectHub.size).toBeGreaterThanOrEqual(1);
  });
});

describe('raw WebSocket', () => {
  it('sends a health.check with connection_id and me as the first frame', async () => {
    await server.client.updateUsers({ users: { blocked: { id: 'blocked' }, grace: { id: 'grace' } } });
    await server.client.blockUsers({ user_id: 'grace', blocked_user_id: 'blocked' });
    const connection = rawConnect(userParams('grace', { name: 'Grace', hobby: 'chess' }));
    const frame = await connection.next();
    expect(Object.keys(frame).sort()).toEqual(['cid', 'connection_id', 'created_at', 'me', 'type']);
    expect(frame.type).toBe('health.check');
    expect(frame.cid).toBe('*');
    expect(frame.connection_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(frame.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(frame.me).toMatchObject({
      id: 'grace',
      name: 'Grace',
      hobby: 'chess',
      role: 'user',
      online: true,
      mutes: [],
      channel_mutes: [],
      devices: [],
      blocked_user_ids: ['blocked'],
      unread_count: 0,
      total_unread_count: 0,
    });
    expect(frame.me.custom).toBeUndefined(); // v1 shape: custom data flattened
    expect(frame.me.last_active).toMatch(/Z$/);

    const row = await sql<{ user_id: string }>`SELECT user_id FROM user_connections WHERE id = ${frame.connection_id}`.execute(
      server.database.db,
    );
    expect(row.rows).toEqual([{ user_id: 'grace' }]);
  });

  it('answers every client ping with a health.check', async () => {
    const connection = rawConnect(userParams('heidi'));
    const first = await connection.next();
    connection.ws.send(JSON.stringify([{ type: 'health.check', client_id: 'heidi--1' }]));
    const pong = await connection.next();
    expect(pong).toMatchObject({ type: 'health.check', connection_id: first.connection_id, cid: '*' });
    expect(pong.me).toBeUndefined();
    connection.ws.send(JSON.stringify({ type: 'health.check' }));
    expect(await connection.next()).toMatchObject({ type: 'health.check', connection_id: first.connection_id });
    connection.ws.send('not json');
    connection.ws.send(JSON.stringify([{ type: 'health.check', client_id: 'heidi--1' }]));
    expect(await connection.next()).toMatchObject({ type: 'health.check' });
  });

  it('rejects with an error frame, then closes with 1000', async () => {
    const connection = rawConnect({ ...userParams('ivan'), authorization: signToken({ user_id: 'ivan' }, { secret: 'x'.repeat(40) }) });
    const frame = await connection.next();
    expect(Object.keys(frame)).toEqual(['error']);
    expect(frame.error).toMatchObject({
      code: 43,
      StatusCode: 401,
      more_info: 'https://getstream.io/chat/docs/api_errors_response',
      details: [],
    });
    expect(frame.error.message).toMatch(/^Connect failed with error: "JWTAuth error: signature is not valid/);
    expect(frame.error.duration).toMatch(/^\d+\.\d\dms$/);
    expect((await connection.closed).code).toBe(1000);
  });

  it.each([
    ['no api_key', { api_key: '' }, 2, 'api_key not provided'],
    ['no stream-auth-type', { 'stream-auth-type': '' }, 5, 'stream-auth-type missing or invalid'],
    ['no token', { authorization: '' }, 5, 'authorization is missing'],
    ['the token "undefined"', { authorization: 'undefined' }, 5, 'authorization is missing'],
    ['a token for another user', { authorization: signToken({ user_id: 'someone-else' }) }, 5, 'not for the connecting user'],
    ['a server token', { authorization: signToken({ server: true }) }, 5, 'server-side token'],
    ['no json', { json: '' }, 4, 'json is a required'],
    ['json that is not JSON', { json: '{nope' }, 4, 'json is not valid JSON'],
    ['an invalid user id', { json: { user_id: 'no spaces allowed' } }, 4, 'is invalid'],
    ['a token for an invalid user id', { json: { user_id: 'no spaces allowed' }, authorization: signToken({ user_id: 'no spaces allowed' }) }, 5, 'not a valid user id'],
    ['an expired token', { authorization: signToken({ user_id: 'judy', exp: Math.floor(Date.now() / 1000) - 60 }) }, 40, 'token has expired'],
  ])('rejects %s', async (_name, override, code, message) => {
    const connection = rawConnect({ ...userParams('judy'), ...override } as never);
    const frame = await connection.next();
    expect(frame.error.code).toBe(code);
    expect(frame.error.message).toContain(message);
    expect((await connection.closed).code).toBe(1000);
  });

  it('rejects an invalid user_details value with code 4 and writes nothing', async () => {
    const connection = rawConnect(userParams('kim', { name: 42 }));
    const frame = await connection.next();
    expect(frame.error.code).toBe(4);
    expect((await connection.closed).code).toBe(1000);
    expect(await storedUser('kim')).toBeUndefined();
  });

  it('accepts an anonymous connection without a token', async () => {
    const connection = rawConnect({ json: { user_id: 'random-uuid', user_details: { id: 'random-uuid', anon: true } }, authorization: '', 'stream-auth-type': 'anonymous' });
    const frame = await connection.next();
    expect(frame).toMatchObject({ type: 'health.check', me: { id: '!anon', role: 'anonymous', online: true } });
    expect(await storedUser('random-uuid')).toBeUndefined();
    expect(await storedUser('!anon')).toBeUndefined();
  });

  it('refuses upgrades on other paths', async () => {
    const connection = rawConnect(userParams('leo'), { path: '/users' });
    const status = await new Promise<number>((resolve) => connection.ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('keeps a live connection fresh, ends one that stops answering pings, and deletes its row', async () => {
    const live = rawConnect(userParams('mia'));
    const silent = rawConnect(userParams('nick'), { autoPong: false });
    await live.next();
    await silent.next();
    await sql`UPDATE user_connections SET seen_at = now() - interval '10 minutes'`.execute(server.database.db);

    await server.app.connectHub.tick(); // pings both, refreshes both rows
    const fresh = await sql<{ user_id: string }>`
      SELECT user_id FROM user_connections WHERE seen_at > now() - interval '1 minute' AND user_id IN ('mia', 'nick')`.execute(server.database.db);
    expect(fresh.rows.map((r) => r.user_id).sort()).toEqual(['mia', 'nick']);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the pong of the live one

    await server.app.connectHub.tick(); // nick did not answer the ping
    expect((await silent.closed).code).toBe(1006);
    await waitFor(async () => (await connectionCount('nick')) === 0);
    expect(await connectionCount('mia')).toBe(1);
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('ends the connection of a user deactivated while connected, with 1008', async () => {
    const connection = rawConnect(userParams('olga'));
    await connection.next();
    await server.client.deactivateUser({ user_id: 'olga' });
    await server.app.connectHub.tick();
    const closed = await connection.closed;
    expect(closed).toEqual({ code: 1008, reason: 'user was deactivated' });
    await waitFor(async () => (await connectionCount('olga')) === 0);
  });

  it('stream-chat reconnects once after such a close, is rejected, and stops', async () => {
    const client = clientSide();
    await client.connectUser({ id: 'olga2' }, serverSide.createToken('olga2'));
    let attempts = 0;
    const countAttempt = () => attempts++;
    server.app.server.on('upgrade', countAttempt);
    try {
      await server.client.deactivateUser({ user_id: 'olga2' });
      await server.app.connectHub.tick();
      await waitFor(() => attempts === 1 && !client.wsConnection!.isConnecting && !client.wsConnection!.isHealthy);
      // A network failure would be retried after another 2 to 4.5 s.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(attempts).toBe(1);
      expect(await connectionCount('olga2')).toBe(0);
    } finally {
      server.app.server.off('upgrade', countAttempt);
    }
  });
});

describe('the WS_PORT listener', () => {
  it('is used only with PORT 3030, and WS_PORT=0 disables it', () => {
    expect(connectPortFor({ port: 3030, wsPort: 8800 })).toBe(8800);
    expect(connectPortFor({ port: 3030, wsPort: 9000 })).toBe(9000);
    expect(connectPortFor({ port: 3030, wsPort: 0 })).toBeUndefined();
    expect(connectPortFor({ port: 3030, wsPort: 3030 })).toBeUndefined();
    expect(connectPortFor({ port: 8080, wsPort: 8800 })).toBeUndefined();
    expect(connectPortFor({ port: 0, wsPort: 8800 })).toBeUndefined();
  });

  it('accepts connections on an extra port, and answers plain HTTP there with 426 or 404', async () => {
    const listener = await listenConnect(server.app, { port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${listener.address.port}`;
      const connection = rawConnect(userParams('pat'), { base });
      expect(await connection.next()).toMatchObject({ type: 'health.check', me: { id: 'pat' } });
      expect((await fetch(`${base}/connect`)).status).toBe(426);
      expect((await fetch(`${base}/users`)).status).toBe(404);

      // stream-chat with a baseURL whose WebSocket URL is this port (as :3030 becomes :8800).
      const client = clientSide();
      client.setBaseURL(server.baseUrl);
      client.wsBaseURL = base.replace('http', 'ws');
      await client.connectUser({ id: 'pat' }, serverSide.createToken('pat'));
      expect(client.user).toMatchObject({ id: 'pat' });
    } finally {
      for (const ws of sockets.splice(0)) ws.terminate();
      await Promise.all(clients.splice(0).map((client) => client.disconnectUser(200)));
      await listener.close();
    }
  });
});

describe('shutdown', () => {
  it('closes every connection with 1001 and deletes their rows', async () => {
    const other = await startTestServer({ worker: false });
    try {
      const url = other.baseUrl;
      const token = signToken({ user_id: 'quinn' });
      const connections = [1, 2].map(() => rawConnect(userParams('quinn', {}, token), { base: url }));
      const anonymous = rawConnect({ json: { user_id: 'x' }, 'stream-auth-type': 'anonymous' }, { base: url });
      for (const connection of [...connections, anonymous]) await connection.next();
      const rows = await sql<{ n: number }>`SELECT count(*)::int AS n FROM user_connections`.execute(other.database.db);
      expect(rows.rows[0]!.n).toBe(2);

      await other.app.close();
      for (const connection of [...connections, anonymous]) expect((await connection.closed).code).toBe(1001);
      const after = await sql<{ n: number }>`SELECT count(*)::int AS n FROM user_connections`.execute(other.database.db);
      expect(after.rows[0]!.n).toBe(0);
    } finally {
      await other.database.drop();
    }
  });
});
