// Webhooks across process failures and several processes, on PostgreSQL (the embedded database is one process): no
// committed change loses its event through a kill -9, no refused request has one, and no (X-Webhook-Id, attempt) pair
// is sent twice by three processes sharing one database.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';
import { runServer, type Child } from '../helpers/process.js';
import { API_KEY, API_SECRET, serverToken } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

describe.runIf(usingPostgres)('webhooks across processes', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  const children: Child[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.kill('SIGKILL')));
    await receiver?.close();
  });
  afterAll(async () => {
    await database?.drop();
  });

  async function start(): Promise<{ child: Child; baseUrl: string }> {
    const child = runServer({
      DATABASE_URL: database.url,
      STREAM_API_KEY: API_KEY,
      STREAM_API_SECRET: API_SECRET,
      PORT: '0',
      WS_PORT: '0',
      LOG_LEVEL: 'info',
      RATE_LIMIT_MULTIPLIER: '1000',
      WEBHOOK_RETRY_FIRST_MS: '200',
    });
    children.push(child);
    const [, baseUrl] = await child.waitFor(/serving the Stream users API on (http:\/\/[\d.:]+)/, 60_000);
    return { child, baseUrl: baseUrl! };
  }

  const call = (baseUrl: string, method: string, path: string, body?: unknown) =>
    fetch(`${baseUrl}${path}${path.includes('?') ? '&' : '?'}api_key=${API_KEY}`, {
      method,
      headers: { 'stream-auth-type': 'jwt', authorization: serverToken(), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function drained(baseUrl: string, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = (await (await call(baseUrl, 'GET', '/operator/webhooks')).json()) as { pending: number };
      if (counts.pending === 0) return;
      if (Date.now() > deadline) throw new Error(`deliveries still pending: ${JSON.stringify(counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('delivers the event of every committed update at least once after a kill -9, and none of a refused one', async () => {
    receiver = await startReceiver();
    let server = await start();
    await call(server.baseUrl, 'PATCH', '/api/v2/app', { event_hooks: [{ hook_type: 'webhook', webhook_url: receiver.url(), timeout_ms: 1_000 }] });
    const users = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
    await call(server.baseUrl, 'POST', '/api/v2/users', { users: Object.fromEntries(users.map((id) => [id, { id }])) });

    const committed = new Set<number>();
    const refused = new Set<number>();
    let next = 0;
    const worker = async () => {
      while (next < 1_000) {
        const n = next++;
        // Every tenth request is refused as a whole: its set holds a key no partial update takes.
        const set = n % 10 === 9 ? { n, 'bad..key': 1 } : { n };
        try {
          const response = await call(server.baseUrl, 'PATCH', '/api/v2/users', { users: [{ id: users[n % users.length], set }] });
          if (response.status === 200) committed.add(n);
          else if (response.status === 400) refused.add(n);
        } catch {
          // the server was killed: this request's outcome is unknown
        }
      }
    };
    const burst = Promise.all(Array.from({ length: 8 }, worker));
    while (committed.size < 300) await new Promise((resolve) => setTimeout(resolve, 5));
    await server.child.kill('SIGKILL');
    await burst;
    expect(committed.size).toBeGreaterThanOrEqual(300);
    expect(refused.size).toBeGreaterThan(0);

    server = await start();
    await drained(server.baseUrl);
    const seen = new Set(receiver.received.map((entry) => JSON.parse(entry.body).user.n as number | undefined));
    const lost = [...committed].filter((n) => !seen.has(n));
    expect(lost, `events of committed updates never delivered: ${lost.join(', ')}`).toEqual([]);
    expect([...refused].filter((n) => seen.has(n))).toEqual([]);
  }, 180_000);

  it('sends no (X-Webhook-Id, attempt) pair twice from three processes on one database', async () => {
    // Every third attempt is refused, so that retries are claimed by any of the three.
    receiver = await startReceiver((_request, index) => ({ status: index % 3 === 0 ? 500 : 200 }));
    const servers = await Promise.all([start(), start(), start()]);
    await call(servers[0]!.baseUrl, 'PATCH', '/api/v2/app', { webhook_url: receiver.url(), event_hooks: [] });
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // every process's settings cache sees the hook
    // Three pools of up to 20 connections, beside the other test files' databases: the server's max_connections may be
    // reached, and a create then waits for a connection (src/db/database.ts), or answers 503 after its pool wait, which
    // a client retries. Every create is acknowledged in the end; the events of all 60 are delivered.
    const create = async (i: number): Promise<number> => {
      for (let attempt = 1; ; attempt++) {
        const response = await call(servers[i % 3]!.baseUrl, 'POST', '/api/v2/users', { users: { [`multi-${i}`]: { id: `multi-${i}`, name: `User ${i}` } } });
        await response.arrayBuffer();
        if (response.status !== 503 || attempt === 5) return response.status;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    };
    const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => create(i)));
    expect(statuses.filter((status) => status !== 201)).toEqual([]);
    await drained(servers[0]!.baseUrl);
    expect(receiver.received.length).toBeGreaterThan(60); // retries happened
    const pairs = receiver.received.map((entry) => `${entry.headers['x-webhook-id']}#${entry.headers['x-webhook-attempt']}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    const events = new Set(receiver.received.map((entry) => entry.headers['x-webhook-id']));
    expect(events.size).toBe(60);
  }, 120_000);
});
