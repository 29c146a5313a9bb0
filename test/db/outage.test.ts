// A database outage under load: a throwaway PostgreSQL cluster of the test's own (never the shared server) is stopped
// under a running server with clients upserting and tasks queued, and started again. While it is down, every request
// answers (201, or a 503 envelope within 3 s), /readyz and the metrics say so, and the process stays up. Once it is
// back, everything recovers without a restart: requests succeed, the worker's LISTEN is re-established (a new task
// runs at once though the worker polls only every minute), every task completes, and nothing acknowledged is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterAvailable, createCluster, type Cluster } from '../helpers/pg-cluster.js';
import { usingPostgres } from '../helpers/database.js';
import { runServer, type Child } from '../helpers/process.js';
import { API_KEY, API_SECRET, serverToken } from '../helpers/server.js';

const OUTAGE_MS = 6_000;
const CLIENTS = 4;

interface Answer {
  status: number;
  ms: number;
  code?: number;
  id: string;
}

// Needs PostgreSQL's server binaries; runs in the PostgreSQL pass of CI (it does not use the shared server).
describe.runIf(usingPostgres && clusterAvailable)('a database outage under load', () => {
  let cluster: Cluster;
  let server: Child;
  let baseUrl: string;

  beforeAll(async () => {
    cluster = await createCluster();
    server = runServer({
      DATABASE_URL: cluster.url,
      STREAM_API_KEY: API_KEY,
      STREAM_API_SECRET: API_SECRET,
      PORT: '0',
      WS_PORT: '0',
      // Only a notification can wake the worker in time: proof that LISTEN came back.
      TASK_POLL_MS: '60000',
      // A task interrupted by the outage is claimed again once its lease runs out.
      TASK_LEASE_MS: '3000',
      TASK_CONCURRENCY: '1',
      RATE_LIMIT_MULTIPLIER: '10000',
    });
    baseUrl = (await server.waitFor(/serving the Stream users API on (http:\/\/[\d.:]+)/, 60_000))[1]!;
  }, 120_000);
  afterAll(async () => {
    await server?.kill('SIGKILL');
    await cluster?.destroy();
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const started = performance.now();
    const response = await fetch(`${baseUrl}${path}${path.includes('?') ? '&' : '?'}api_key=${API_KEY}`, {
      method,
      headers: { 'stream-auth-type': 'jwt', authorization: serverToken(), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await response.json()) as any;
    return { status: response.status, ms: performance.now() - started, json };
  };
  const probe = async (path: string) => {
    const started = performance.now();
    const response = await fetch(`${baseUrl}${path}`);
    return { status: response.status, ms: performance.now() - started, text: await response.text() };
  };
  const taskStatus = async (id: string) => (await api('GET', `/api/v2/tasks/${id}`)).json.status as string;

  it('answers 503 envelopes within 3 s while the database is down, and recovers all of itself once it is back', async () => {
    const users = Array.from({ length: 150 }, (_, i) => ({ id: `seed-${i}` }));
    for (const batch of [users.slice(0, 75), users.slice(75)]) {
      expect((await api('POST', '/api/v2/users', { users: Object.fromEntries(batch.map((u) => [u.id, u])) })).status).toBe(201);
    }

    // Clients upsert throughout: before, during and after the outage.
    const answers: Answer[] = [];
    let load = true;
    let counter = 0;
    const client = async () => {
      while (load) {
        const id = `load-${counter++}`;
        try {
          const { status, ms, json } = await api('POST', '/api/v2/users', { users: { [id]: { id, name: id } } });
          answers.push({ status, ms, code: json.code, id });
        } catch (error) {
          answers.push({ status: 0, ms: 0, id, code: undefined });
          throw error;
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);

    await new Promise((resolve) => setTimeout(resolve, 300));
    // Tasks queued just before the outage, run one at a time: some done, some running (interrupted), most waiting.
    const tasks: string[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const started = await api('POST', '/api/v2/users/deactivate', { user_ids: users.slice(i * 5, i * 5 + 5).map((u) => u.id) });
        expect(started.status).toBe(201);
        tasks.push(started.json.task_id);
      }),
    );
    await cluster.stop();
    const stoppedAt = answers.length;
    const outageEnds = Date.now() + OUTAGE_MS;

    // While it is down: probes answer 503 in time, and the metrics say the database is down.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ready = await probe('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(3_000);
    expect((await probe('/healthz')).status).toBe(200);
    const metrics = await probe('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^stream_database_up 0$/m);
    const poll = await api('GET', `/api/v2/tasks/${tasks.at(-1)}`);
    expect(poll.status).toBe(503);
    expect(poll.json).toMatchObject({ code: -1, StatusCode: 503, message: expect.stringContaining('GetTask failed') });
    expect(poll.ms).toBeLessThan(3_000);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())));
    const during = answers.slice(stoppedAt);
    await cluster.start();

    // Recovered without a restart: /readyz, then requests.
    const deadline = Date.now() + 30_000;
    while ((await probe('/readyz')).status !== 200) {
      expect(Date.now(), '/readyz answers 200 again').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const recoveredAt = answers.length;
    while (answers.slice(recoveredAt).filter((a) => a.status === 201).length < 20) {
      expect(Date.now(), 'upserts succeed again').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    load = false;
    await Promise.all(clients);

    // Every answer during the outage was a success or a Stream 503 envelope, in time; some were 503s.
    expect(during.filter((a) => a.status === 503).length).toBeGreaterThan(0);
    for (const answer of answers) {
      expect([201, 503], `answer for ${answer.id}`).toContain(answer.status);
      if (answer.status === 503) {
        expect(answer.code).toBe(-1);
        expect(answer.ms, `503 for ${answer.id}`).toBeLessThan(3_000);
      }
    }

    // LISTEN is back: a task enqueued now runs at once, though the worker would not poll for a minute.
    const fresh = await api('POST', '/api/v2/users/reactivate', { user_ids: ['seed-0'] });
    expect(fresh.status).toBe(201);
    tasks.push(fresh.json.task_id);
    const taskDeadline = Date.now() + 20_000;
    for (const id of tasks) {
      let status = await taskStatus(id);
      while (status !== 'completed') {
        expect(status, `task ${id}`).not.toBe('failed');
        expect(Date.now(), `task ${id} completes (still ${status})`).toBeLessThan(taskDeadline);
        await new Promise((resolve) => setTimeout(resolve, 200));
        status = await taskStatus(id);
      }
    }

    // Nothing acknowledged was lost.
    const acknowledged = answers.filter((a) => a.status === 201).map((a) => a.id);
    for (let i = 0; i < acknowledged.length; i += 100) {
      const ids = acknowledged.slice(i, i + 100);
      const found = await api('GET', `/api/v2/users?payload=${encodeURIComponent(JSON.stringify({ filter_conditions: { id: { $in: ids } }, limit: 100 }))}`);
      expect(found.status).toBe(200);
      expect(found.json.users.map((u: { id: string }) => u.id).sort()).toEqual([...ids].sort());
    }
    expect(server.process.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/Unhandled|uncaught/i);
  }, 180_000);
});
