// Three server processes on one PostgreSQL database behind one client that spreads its requests over them: every task
// runs exactly once, a settings change made through one instance holds on all of them within a second, and the rate
// limits are the app's, counted across the instances.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.js';
import { runServer, type Child } from '../helpers/process.js';
import { API_KEY, API_SECRET, serverToken, signToken } from '../helpers/server.js';

const INSTANCES = 3;

describe.runIf(usingPostgres)('three instances on one database', () => {
  let admin: pg.Client;
  let databaseName: string;
  let databaseUrl: string;
  const instances: Array<{ child: Child; baseUrl: string }> = [];
  let next = 0;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    databaseName = `test_instances_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${databaseName}`);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${databaseName}`;
    databaseUrl = url.toString();
    const env = {
      DATABASE_URL: databaseUrl,
      STREAM_API_KEY: API_KEY,
      STREAM_API_SECRET: API_SECRET,
      PORT: '0',
      WS_PORT: '0',
      RATE_LIMITS: 'QueryUsers=30',
      TASK_POLL_MS: '200',
    };
    // Started together: their migrations race for the same database (an advisory lock orders them).
    const children = Array.from({ length: INSTANCES }, () => runServer(env));
    for (const child of children) {
      const baseUrl = (await child.waitFor(/serving the Stream users API on (http:\/\/[\d.:]+)/, 90_000))[1]!;
      instances.push({ child, baseUrl });
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all(instances.map(({ child }) => child.kill('SIGKILL')));
    await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin?.end();
  });

  /** The next instance, round robin, as a load balancer would pick. */
  const call = async (method: string, path: string, options: { body?: unknown; token?: string; instance?: number } = {}) => {
    const { baseUrl } = instances[options.instance ?? next++ % INSTANCES]!;
    const response = await fetch(`${baseUrl}${path}${path.includes('?') ? '&' : '?'}api_key=${API_KEY}`, {
      method,
      headers: {
        'stream-auth-type': 'jwt',
        authorization: options.token ?? serverToken(),
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      body: options.body ? JSON.stringify(options.body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('runs every task exactly once, whichever instance took it', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    expect((await call('POST', '/api/v2/users', { body: { users: Object.fromEntries(ids.map((id) => [id, { id }])) } })).status).toBe(201);
    const tasks: string[] = [];
    for (let i = 0; i < 30; i++) {
      const started = await call('POST', '/api/v2/users/deactivate', { body: { user_ids: ids.slice(i * 2, i * 2 + 2) } });
      expect(started.status).toBe(201);
      tasks.push(started.body.task_id);
    }
    const deadline = Date.now() + 60_000;
    for (const id of tasks) {
      for (;;) {
        const { body } = await call('GET', `/api/v2/tasks/${id}`);
        if (body.status === 'completed') break;
        expect(body.status).not.toBe('failed');
        expect(Date.now(), `task ${id}`).toBeLessThan(deadline);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    // Once each: one attempt per task in the table, and 30 completed attempts counted over the three processes.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ attempts: number }>('SELECT attempts FROM tasks WHERE id = ANY($1)', [tasks]);
      expect(rows.map((row) => row.attempts)).toEqual(tasks.map(() => 1));
    } finally {
      await client.end();
    }
    let completed = 0;
    const ran: number[] = [];
    for (const { baseUrl } of instances) {
      const text = await (await fetch(`${baseUrl}/metrics`)).text();
      const count = Number(/^stream_task_attempts_total\{type="DeactivateUsers",outcome="completed"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      ran.push(count);
      completed += count;
    }
    expect(completed).toBe(30);
    // The work was spread: more than one instance ran tasks.
    expect(ran.filter((count) => count > 0).length).toBeGreaterThan(1);
  }, 90_000);

  it('holds a settings change made through one instance on every instance within a second', async () => {
    expect((await call('POST', '/api/v2/users', { body: { users: { revoked: { id: 'revoked' } } } })).status).toBe(201);
    const token = signToken({ user_id: 'revoked', iat: Math.floor(Date.now() / 1000) - 60 });
    // Every instance has the settings cached and takes the token.
    for (let i = 0; i < INSTANCES; i++) expect((await call('GET', '/api/v2/users/block?user_id=revoked', { token, instance: i })).status).toBe(200);

    // Revoked through the first instance: the token stops working on the others.
    const changedAt = performance.now();
    expect((await call('PATCH', '/api/v2/app', { body: { revoke_tokens_issued_before: new Date().toISOString() }, instance: 0 })).status).toBe(200);
    for (let i = 1; i < INSTANCES; i++) {
      for (;;) {
        const { status } = await call('GET', '/api/v2/users/block?user_id=revoked', { token, instance: i });
        if (status === 401) break;
        expect(performance.now() - changedAt, `instance ${i} still takes the revoked token`).toBeLessThan(1_000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    expect(performance.now() - changedAt).toBeLessThan(1_000);
  });

  it('counts the rate limits of the app across the instances', async () => {
    // One window for the whole check: not within seconds of a minute's end.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 100));
    const payload = encodeURIComponent(JSON.stringify({ filter_conditions: { id: 'user-0' } }));
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) statuses.push((await call('GET', `/api/v2/users?payload=${payload}`)).status);
    // 30 a minute for the app: each instance alone would have allowed 30 of its own 15.
    expect(statuses.filter((status) => status === 200).length).toBe(30);
    expect(statuses.filter((status) => status === 429).length).toBe(15);
    // And each instance reports the same usage.
    const reports = await Promise.all(
      instances.map((_, i) => call('GET', '/api/v2/rate_limits?server_side=true&endpoints=QueryUsers', { instance: i })),
    );
    for (const report of reports) expect(report.body.server_side.QueryUsers).toMatchObject({ limit: 30, remaining: 0 });
  }, 80_000);
});
