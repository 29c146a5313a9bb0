// Cancelling a hook's pending deliveries from several places at once (a configuration change, the dispatcher after a
// failed send, the housekeeping, the operator), on PostgreSQL: every delivery is cancelled once, counted once, and
// each user's next kept delivery becomes due; none of the callers fails.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelPending, insertDeliveries, type NewDelivery } from '../../src/webhooks/store.js';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';

const USERS = 300;
const PER_USER = 10;

describe.runIf(usingPostgres)('concurrent cancellations of a hook’s deliveries', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  }, 30_000);
  afterAll(async () => {
    await database?.drop();
  });

  /** PER_USER deliveries for each of USERS users, event types alternating, in one transaction. */
  async function seed(hookId: string): Promise<void> {
    const deliveries: NewDelivery[] = [];
    for (let n = 0; n < PER_USER; n++) {
      for (let u = 0; u < USERS; u++) {
        const eventType = n % 2 === 0 ? 'user.updated' : 'user.deactivated';
        deliveries.push({ id: randomUUID(), hookId, userId: `u${u}`, eventType, displayUrl: 'http://receiver.test/', body: '{}' });
      }
    }
    await database.db.transaction().execute((trx) => insertDeliveries(trx, deliveries));
  }

  const statuses = async (hookId: string) =>
    (
      await sql<{ status: string; due: boolean; n: number }>`
        SELECT status, next_attempt_at IS NOT NULL AS due, count(*)::int AS n FROM webhook_deliveries
        WHERE hook_id = ${hookId} GROUP BY 1, 2 ORDER BY 1, 2`.execute(database.db)
    ).rows;

  it('cancels each delivery of a removed hook once, whoever cancels it', async () => {
    await seed('removed');
    const counts = await Promise.all(Array.from({ length: 4 }, () => cancelPending(database.db, 'removed', 'the hook was removed')));
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(USERS * PER_USER);
    const rows = await statuses('removed');
    expect(rows.every((row) => row.status === 'cancelled')).toBe(true);
    expect(rows.reduce((sum, row) => sum + row.n, 0)).toBe(USERS * PER_USER);
  });

  it('cancels the types a narrowed hook no longer takes once, and makes each user’s next kept delivery due', async () => {
    await seed('narrowed');
    const counts = await Promise.all(
      Array.from({ length: 4 }, () => cancelPending(database.db, 'narrowed', 'the hook no longer takes this event type', ['user.deactivated'])),
    );
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe((USERS * PER_USER) / 2);
    const rows = await statuses('narrowed');
    expect(rows.filter((row) => row.status === 'cancelled').reduce((sum, row) => sum + row.n, 0)).toBe((USERS * PER_USER) / 2);
    expect(rows.filter((row) => row.status === 'pending')).toEqual([
      { status: 'pending', due: false, n: (USERS * PER_USER) / 2 - USERS },
      { status: 'pending', due: true, n: USERS },
    ]);
  });
});
