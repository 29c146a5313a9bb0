// Wake-ups after commit (db/notify.ts): a transaction that records webhook deliveries or enqueues a task sends no
// NOTIFY inside it (PostgreSQL's NOTIFY lock would serialize commits across the cluster); one is sent after the commit,
// none after a rollback; and the notifier coalesces: at most one in flight per channel, one more for what came meanwhile.
import type { PGlite } from '@electric-sql/pglite';
import { PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotifyingKysely, Notifier } from '../../src/db/notify.js';
import type { Database } from '../../src/db/schema.js';
import { enqueueTask, TASKS_CHANNEL } from '../../src/tasks/store.js';
import { insertDeliveries, WEBHOOKS_CHANNEL } from '../../src/webhooks/store.js';
import { createTestDatabase, migratedPglite, usingPostgres, type TestDatabase } from '../helpers/database.js';

let statements: string[];
let db: NotifyingKysely<Database>;
let database: TestDatabase | undefined;
let pglite: PGlite | undefined;

beforeAll(async () => {
  statements = [];
  const log = (event: { query: { sql: string } }) => {
    statements.push(event.query.sql.trim().toLowerCase());
  };
  if (usingPostgres) {
    database = await createTestDatabase();
    db = new NotifyingKysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url }) }), log });
  } else {
    pglite = await migratedPglite();
    db = new NotifyingKysely<Database>({ dialect: new PGliteDialect({ pglite }), log });
  }
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
  if (pglite && !pglite.closed) await pglite.close();
});

const notifies = (from: number, to = statements.length) => statements.slice(from, to).filter((text) => text.includes('pg_notify'));

async function waitFor(check: () => boolean) {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('wake-ups after commit', () => {
  it('sends no NOTIFY inside the transaction that records deliveries and enqueues a task, and one per channel after its commit', async () => {
    const start = statements.length;
    await db.transaction().execute(async (trx) => {
      await insertDeliveries(trx, [{ id: crypto.randomUUID(), hookId: 'h', userId: 'u', eventType: 'user.updated', displayUrl: 'http://x', body: '{}' }]);
      await enqueueTask(trx, 'DeactivateUsers', { user_ids: ['u'] }, { maxAttempts: 1 });
      // Everything the transaction sent is logged before this mark (PGlite's BEGIN and COMMIT are not logged at all).
      statements.push('-- end of the transaction');
    });
    const commit = statements.indexOf('-- end of the transaction', start);
    expect(commit).toBeGreaterThan(start);
    expect(notifies(start, commit)).toEqual([]);
    await waitFor(() => notifies(commit).length >= 2);
    const after = notifies(commit);
    expect(after).toHaveLength(2);
    expect(after.every((text) => text.startsWith('select pg_notify'))).toBe(true);
  });

  it('sends none after a rollback', async () => {
    const start = statements.length;
    await expect(
      db.transaction().execute(async (trx) => {
        await enqueueTask(trx, 'DeactivateUsers', { user_ids: ['u'] }, { maxAttempts: 1 });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await db.selectFrom('tasks').select('id').execute(); // anything sent after the rollback would be logged before this
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(notifies(start)).toEqual([]);
  });

  it('coalesces: one in flight per channel, and one more for everything asked meanwhile', async () => {
    const sent: string[] = [];
    const pending: Array<() => void> = [];
    const notifier = new Notifier((channel) => {
      sent.push(channel);
      return new Promise<void>((resolve) => pending.push(resolve));
    });
    for (let i = 0; i < 10; i++) notifier.notify(WEBHOOKS_CHANNEL);
    notifier.notify(TASKS_CHANNEL);
    expect(sent).toEqual([WEBHOOKS_CHANNEL, TASKS_CHANNEL]);
    pending.shift()!();
    await waitFor(() => sent.length === 3);
    expect(sent[2]).toBe(WEBHOOKS_CHANNEL);
    pending.splice(0).forEach((resolve) => resolve());
    await new Promise((resolve) => setTimeout(resolve, 20));
    pending.splice(0).forEach((resolve) => resolve());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent).toHaveLength(3);
    // Idle again: the next request is sent at once.
    notifier.notify(TASKS_CHANNEL);
    expect(sent).toHaveLength(4);
  });
});
