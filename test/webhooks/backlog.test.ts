// A dead receiver with a backlog costs the others nothing (PostgreSQL: the embedded database holds one process and
// is not where a backlog of this size lives). 100,000 pending deliveries for a hook whose receiver refuses connections:
// a claim reads a bounded number of rows (from its plan, EXPLAIN ANALYZE), a healthy hook's new events are delivered,
// the metrics answer, and the purge deletes more than one batch.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedWithoutTimeout, usingPostgres } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { claimStatement } from '../../src/webhooks/store.js';
import { purgeOldDeliveries } from '../../src/webhooks/service.js';

const BACKLOG = 100_000;
const USERS = 10_000;

interface PlanNode {
  'Node Type': string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** Rows the scans of webhook_deliveries in a plan read: returned, and read then filtered out, over all their loops. */
function rowsRead(node: PlanNode): number {
  const own =
    node['Relation Name'] === 'webhook_deliveries' && /Scan/.test(node['Node Type'])
      ? ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * (node['Actual Loops'] ?? 1)
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), 0);
}

describe.runIf(usingPostgres)('a backlog of a dead hook', () => {
  let server: TestServer;
  let healthy: Receiver;
  let deadUrl: string;

  beforeAll(async () => {
    server = await startTestServer({ worker: false, metrics: {}, webhooks: { retry: { firstMs: 60_000 } } });
    healthy = await startReceiver();
    const closed = await startReceiver();
    deadUrl = closed.url('/dead');
    await closed.close();
    await server.client.updateApp({
      event_hooks: [
        { id: 'dead', hook_type: 'webhook', webhook_url: deadUrl },
        { id: 'healthy', hook_type: 'webhook', webhook_url: healthy.url() },
      ] as never,
    });
    // 100,000 deliveries of 10,000 users: each user's first is its queue's head and due now, the rest wait behind it.
    await seedWithoutTimeout(server.database.db, sql`
      INSERT INTO webhook_deliveries (id, hook_id, user_id, event_type, url, body, next_attempt_at)
      SELECT gen_random_uuid(), 'dead', 'backlog-' || (i % ${USERS}), 'user.updated', ${deadUrl},
             '{"type":"user.updated","user":{"id":"backlog"},"custom":{}}', CASE WHEN i < ${USERS} THEN now() END
      FROM generate_series(0, ${BACKLOG - 1}) AS i`);
    await sql`ANALYZE webhook_deliveries`.execute(server.database.db);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await healthy?.close();
  });

  it('claims by reading a bounded number of rows, and delivers a healthy hook\'s new events', async () => {
    const claims = [
      { hookId: 'dead', limit: 4, leaseMs: 11_000 },
      { hookId: 'healthy', limit: 4, leaseMs: 11_000 },
    ];
    // EXPLAIN ANALYZE runs the claim: up to 4 of the dead hook's heads are leased to "explain" (and taken over later).
    const result = await sql<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>`EXPLAIN (ANALYZE, FORMAT JSON) ${claimStatement('explain', claims, 8)}`.execute(
      server.database.db,
    );
    const plan = result.rows[0]!['QUERY PLAN'][0]!.Plan;
    const read = rowsRead(plan);
    console.log(`the claim read ${read} rows of webhook_deliveries with a backlog of ${BACKLOG}`);
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(100);

    await server.client.upsertUsers([{ id: 'healthy-1' }, { id: 'healthy-2' }]);
    await healthy.waitFor((all) => all.length >= 2, 15_000);
    // The dead hook is being tried (connection refused) and its backlog is all still there.
    const report = (await server.request('GET', '/operator/webhooks')).body;
    const dead = report.hooks.find((hook: { id: string }) => hook.id === 'dead');
    expect(dead.pending).toBeGreaterThanOrEqual(BACKLOG);
    expect(dead.last_error).toMatch(/ECONNREFUSED/);
    const metrics = await server.request('GET', '/metrics');
    expect(metrics.text).toMatch(/^stream_database_up 1$/m);
    expect(metrics.text).toMatch(/^stream_webhook_deliveries\{state="pending"\} (\d+)$/m);
  }, 60_000);

  it('purges ended deliveries past the retention window in batches until none is left', async () => {
    await sql`
      INSERT INTO webhook_deliveries (id, hook_id, user_id, event_type, url, body, status, created_at, delivered_at)
      SELECT gen_random_uuid(), 'healthy', 'old-' || i, 'user.updated', 'http://x', '{}', 'delivered', now() - interval '8 days', now() - interval '8 days'
      FROM generate_series(1, 2500) AS i`.execute(server.database.db);
    expect(await purgeOldDeliveries(server.database.db, 7 * 24 * 3600_000)).toBe(2500);
  });
});
