// A database restart never ends the server: a throwaway PostgreSQL cluster of the test's own is stopped under a
// running server (pg emits 57P01 "terminating connection due to administrator command" on every connection) and
// started again; the server stays up, answers 503 envelopes while the database is away, and serves again after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterAvailable, createCluster, type Cluster } from '../helpers/pg-cluster.js';
import { usingPostgres } from '../helpers/database.js';
import { runTs, type Child } from '../helpers/process.js';
import { API_KEY, API_SECRET, serverToken } from '../helpers/server.js';

// Needs PostgreSQL's server binaries; runs in the PostgreSQL pass of CI (it does not use the shared server).
describe.runIf(usingPostgres && clusterAvailable)('a database restart under a running server', () => {
  let cluster: Cluster;
  let server: Child;
  let baseUrl: string;

  beforeAll(async () => {
    cluster = await createCluster();
    server = runTs('src/server.ts', {
      DATABASE_URL: cluster.url,
      STREAM_API_KEY: API_KEY,
      STREAM_API_SECRET: API_SECRET,
      PORT: '0',
      WS_PORT: '0',
      TASK_POLL_MS: '500',
    });
    baseUrl = (await server.waitFor(/serving the Stream users API on (http:\/\/[\d.:]+)/, 60_000))[1]!;
  }, 120_000);
  afterAll(async () => {
    await server?.kill('SIGKILL');
    await cluster?.destroy();
  });

  const upsert = (id: string) =>
    fetch(`${baseUrl}/api/v2/users?api_key=${API_KEY}`, {
      method: 'POST',
      headers: { 'stream-auth-type': 'jwt', authorization: serverToken(), 'content-type': 'application/json' },
      body: JSON.stringify({ users: { [id]: { id } } }),
    });

  it('survives the restart, answers 503 envelopes meanwhile, and serves again after', async () => {
    expect((await upsert('before')).status).toBe(201);
    await cluster.stop();

    const during = await upsert('during');
    expect(during.status).toBe(503);
    expect(await during.json()).toMatchObject({ code: -1, StatusCode: 503 });
    expect(server.process.exitCode).toBeNull();

    await cluster.start();
    const deadline = Date.now() + 20_000;
    let after = await upsert('after');
    while (after.status !== 201 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await upsert('after');
    }
    expect(after.status).toBe(201);
    expect(server.process.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/Unhandled|uncaught/i);
  }, 120_000);
});
