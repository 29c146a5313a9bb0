// The outbox of webhook deliveries: one row per event and hook, written in the same transaction as the change that
// causes the event, and sent by the dispatcher (dispatcher.ts). A delivery is claimed like a task: FOR UPDATE SKIP
// LOCKED with a lease, and every write that ends an attempt is fenced on (lease owner, attempt).
//
// Each hook receives one user's events in commit order: the deliveries of one hook and user form a queue, and only its
// head has a time to be sent (`next_attempt_at`); the others wait (NULL) until the head ends, which gives the next one
// its time. So the claim reads due heads only, hook by hook, through an index, whatever the backlog behind them.
import { sql, type RawBuilder } from 'kysely';
import { notifyAfterCommit } from '../db/notify.js';
import type { Db, Micros, Tx } from '../db/schema.js';

/** NOTIFY channel that wakes dispatchers when deliveries are written. */
export const WEBHOOKS_CHANNEL = 'stream_webhooks';

export interface NewDelivery {
  id: string;
  hookId: string;
  userId: string;
  eventType: string;
  /** The hook's URL as the operator may read it (no query values). */
  displayUrl: string;
  body: string;
  /** The body kept once the delivery has ended, when it must carry less than the one sent (a hard deletion's). */
  endedBody?: string;
}

/**
 * Writes deliveries inside the change's transaction. A delivery is the head of its queue when nothing of its hook and
 * user is unfinished; otherwise it waits. The latest unfinished delivery of each queue is locked (FOR SHARE) until this
 * transaction ends, so that ending it waits for this commit and then sees the new one to give it its time. The wake-up
 * of the dispatchers is sent after the commit, outside the transaction.
 */
export async function insertDeliveries(trx: Tx, deliveries: readonly NewDelivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  const input = JSON.stringify(
    deliveries.map((d, ord) => ({ ord, id: d.id, hook_id: d.hookId, user_id: d.userId, event_type: d.eventType, url: d.displayUrl, body: d.body, ended_body: d.endedBody ?? null })),
  );
  await sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${input}::jsonb)
        AS i(ord int, id uuid, hook_id text, user_id text, event_type text, url text, body text, ended_body text)
    ),
    queues AS (SELECT DISTINCT hook_id, user_id FROM input),
    busy AS (
      SELECT q.hook_id, q.user_id FROM queues q
      CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.hook_id = q.hook_id AND d.user_id = q.user_id AND d.status IN ('pending', 'sending')
        ORDER BY d.seq DESC LIMIT 1
        FOR SHARE OF d
      ) latest
    )
    INSERT INTO webhook_deliveries (id, hook_id, user_id, event_type, url, body, ended_body, next_attempt_at)
    SELECT i.id, i.hook_id, i.user_id, i.event_type, i.url, i.body, i.ended_body,
           CASE WHEN b.hook_id IS NULL AND row_number() OVER (PARTITION BY i.hook_id, i.user_id ORDER BY i.ord) = 1 THEN now() END
    FROM input i LEFT JOIN busy b ON b.hook_id = i.hook_id AND b.user_id = i.user_id
    ORDER BY i.ord`.execute(trx);
  await notifyAfterCommit(trx, WEBHOOKS_CHANNEL);
}

export interface ClaimedDelivery {
  id: string;
  hook_id: string;
  user_id: string;
  event_type: string;
  body: string;
  attempts: number;
  age_from: Micros;
  lease_owner: string;
}

/** What one hook may take in a claim: how many, and the lease of each (its timeout and a margin). */
export interface HookClaim {
  hookId: string;
  limit: number;
  leaseMs: number;
}

/**
 * Claims due deliveries of the hooks given (enabled ones with room in flight), up to each one's limit: heads whose
 * time has come, in time order, through the head index; and deliveries whose lease ran out. A head is skipped while
 * an earlier delivery of its hook and user is unfinished (this holds the order should two writers both have made a
 * head). Each hook reads at most its limit of rows plus those locked by others, whatever its backlog.
 */
export async function claimDeliveries(db: Db, owner: string, hooks: readonly HookClaim[], total: number): Promise<ClaimedDelivery[]> {
  if (hooks.length === 0 || total <= 0) return [];
  return (await claimStatement(owner, hooks, total).execute(db)).rows;
}

/** The claim's statement (claimDeliveries), for the test that reads its plan. */
export function claimStatement(owner: string, hooks: readonly HookClaim[], total: number): RawBuilder<ClaimedDelivery> {
  const ids = sql`ARRAY[${sql.join(hooks.map((h) => sql`${h.hookId}::text`))}]`;
  const limits = sql`ARRAY[${sql.join(hooks.map((h) => sql`${h.limit}::int`))}]`;
  const leases = sql`ARRAY[${sql.join(hooks.map((h) => sql`${h.leaseMs / 1000}::float8`))}]`;
  return sql<ClaimedDelivery>`
    WITH hooks AS (
      SELECT * FROM unnest(${ids}, ${limits}, ${leases}) AS h(hook_id, lim, lease_secs)
    ),
    candidates AS (
      SELECT due.id, h.lease_secs FROM hooks h
      CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.hook_id = h.hook_id AND d.status = 'pending' AND d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= now()
          AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries e
            WHERE e.hook_id = d.hook_id AND e.user_id = d.user_id AND e.seq < d.seq AND e.status IN ('pending', 'sending'))
        ORDER BY d.next_attempt_at
        LIMIT h.lim
        FOR UPDATE OF d SKIP LOCKED
      ) due
      UNION ALL
      SELECT lapsed.id, h.lease_secs FROM hooks h
      CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.status = 'sending' AND d.lease_expires_at < now() AND d.hook_id = h.hook_id
        LIMIT h.lim
        FOR UPDATE OF d SKIP LOCKED
      ) lapsed
    ),
    chosen AS (SELECT * FROM candidates LIMIT ${total})
    UPDATE webhook_deliveries d SET
      status = 'sending',
      attempts = d.attempts + 1,
      lease_owner = ${owner},
      lease_expires_at = now() + make_interval(secs => chosen.lease_secs)
    FROM chosen
    WHERE d.id = chosen.id
    RETURNING d.id::text AS id, d.hook_id, d.user_id, d.event_type, d.body, d.attempts, d.age_from, d.lease_owner`;
}

const heldBy = (delivery: ClaimedDelivery) =>
  sql`id = ${delivery.id}::uuid AND lease_owner = ${delivery.lease_owner} AND attempts = ${delivery.attempts} AND status = 'sending'`;

/** How an attempt ended, as recorded. */
export type AttemptOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; delayMs: number; error: string; status: number | null }
  | { kind: 'failed'; error: string; status: number | null; maxAgeMs: number }
  | { kind: 'cancelled'; error: string };

/**
 * Records the end of an attempt, fenced on its lease: false when another took the delivery over. A delivery that ends
 * (delivered, failed, cancelled) hands its queue on: when it fails, the deliveries waiting behind it that are already
 * past the age limit fail with it; then the next one is due at once.
 */
export async function recordAttempt(db: Db, delivery: ClaimedDelivery, outcome: AttemptOutcome): Promise<boolean> {
  const error = outcome.kind === 'delivered' ? null : outcome.error.slice(0, 500);
  // A retry keeps its place at the head of its queue: one statement, which records the hook's last error too.
  if (outcome.kind === 'retry') {
    const result = await sql<{ id: string }>`
      WITH retried AS (
        UPDATE webhook_deliveries SET
          status = 'pending', next_attempt_at = now() + make_interval(secs => ${outcome.delayMs / 1000}),
          lease_owner = NULL, lease_expires_at = NULL, last_error = ${error}, last_status = ${outcome.status}
        WHERE ${heldBy(delivery)}
        RETURNING id
      ),
      noted AS (
        INSERT INTO webhook_hook_errors (hook_id, last_error, last_error_at)
        SELECT ${delivery.hook_id}, ${error}, now() FROM retried
        ON CONFLICT (hook_id) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at
      )
      SELECT id::text FROM retried`.execute(db);
    return result.rows.length === 1;
  }
  // An end hands the queue on, in one call (migration 010's webhook_delivery_ended, whose statements each see what
  // committed before them: the next delivery a writer added while this one was being sent included).
  const result = await sql<{ ended: boolean }>`
    SELECT webhook_delivery_ended(
      ${delivery.id}::uuid, ${delivery.lease_owner}, ${delivery.attempts}, ${outcome.kind}, ${error},
      ${outcome.kind === 'failed' ? outcome.status : null}::integer, ${outcome.kind === 'failed' ? outcome.maxAgeMs : 0}::bigint
    ) AS ended`.execute(db);
  return result.rows[0]?.ended === true;
}

/** Gives the first unfinished delivery of each queue its time, when it is waiting (its head ended). */
async function promoteHeads(trx: Tx, queues: ReadonlyArray<{ hookId: string; userId: string }>): Promise<void> {
  if (queues.length === 0) return;
  const input = JSON.stringify(queues.map((q) => ({ hook_id: q.hookId, user_id: q.userId })));
  await sql`
    UPDATE webhook_deliveries SET next_attempt_at = now()
    WHERE id IN (
      SELECT first.id FROM (SELECT DISTINCT * FROM jsonb_to_recordset(${input}::jsonb) AS q(hook_id text, user_id text)) q
      CROSS JOIN LATERAL (
        SELECT d.id, d.status, d.next_attempt_at FROM webhook_deliveries d
        WHERE d.hook_id = q.hook_id AND d.user_id = q.user_id AND d.status IN ('pending', 'sending')
        ORDER BY d.seq LIMIT 1
      ) first
      WHERE first.status = 'pending' AND first.next_attempt_at IS NULL
    )
    AND status = 'pending' AND next_attempt_at IS NULL`.execute(trx);
}

/**
 * Hands a delivery back (shutdown): it is due again at once. Its attempt keeps its number, so that the next one, which
 * may reach the receiver after this one did, is never sent under the same (X-Webhook-Id, attempt).
 */
export async function releaseDelivery(db: Db, delivery: ClaimedDelivery): Promise<void> {
  await sql`
    UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), lease_owner = NULL, lease_expires_at = NULL
    WHERE ${heldBy(delivery)}`.execute(db);
}

const BATCH = 1_000;

/**
 * Cancels a hook's pending deliveries (those being sent finish their attempt), all of them or those of event types the
 * hook no longer takes (`keepTypes`: the types it takes; empty: all, so nothing is cancelled). In batches, each one
 * handing its queues on; returns how many were cancelled.
 */
export async function cancelPending(db: Db, hookId: string, reason: string, keepTypes?: readonly string[]): Promise<number> {
  if (keepTypes && keepTypes.length === 0) return 0;
  const typeFilter = keepTypes ? sql`AND NOT (event_type = ANY(ARRAY[${sql.join(keepTypes.map((t) => sql`${t}::text`))}]))` : sql``;
  let cancelled = 0;
  for (;;) {
    const count = await db.transaction().execute(async (trx) => {
      const rows = await sql<{ user_id: string }>`
        UPDATE webhook_deliveries SET status = 'cancelled', body = coalesce(ended_body, body), ended_body = NULL, last_error = ${reason}
        WHERE id IN (
          SELECT id FROM webhook_deliveries
          WHERE hook_id = ${hookId} AND status = 'pending' ${typeFilter}
          ORDER BY seq LIMIT ${BATCH}
        ) AND status = 'pending'
        RETURNING user_id`.execute(trx);
      const users = [...new Set(rows.rows.map((row) => row.user_id))];
      await promoteHeads(trx, users.map((userId) => ({ hookId, userId })));
      return rows.rows.length;
    });
    cancelled += count;
    if (count < BATCH) return cancelled;
  }
}

/**
 * Fails the pending deliveries of a (paused) hook that are past the age limit, oldest first, in batches, each handing
 * its queues on. Each batch looks at the hook's 1,000 oldest pending deliveries only: commit order is age order, so
 * when none of those has expired, none has.
 */
export async function expirePending(db: Db, hookId: string, maxAgeMs: number, reason: string): Promise<number> {
  let expired = 0;
  for (;;) {
    const count = await db.transaction().execute(async (trx) => {
      const rows = await sql<{ user_id: string }>`
        UPDATE webhook_deliveries SET status = 'failed', body = coalesce(ended_body, body), ended_body = NULL, last_error = ${reason}
        WHERE id IN (
          SELECT oldest.id FROM (
            SELECT id, age_from FROM webhook_deliveries WHERE hook_id = ${hookId} AND status = 'pending' ORDER BY seq LIMIT ${BATCH}
          ) oldest
          WHERE oldest.age_from < now() - make_interval(secs => ${maxAgeMs / 1000})
        ) AND status = 'pending'
        RETURNING user_id`.execute(trx);
      const users = [...new Set(rows.rows.map((row) => row.user_id))];
      await promoteHeads(trx, users.map((userId) => ({ hookId, userId })));
      return rows.rows.length;
    });
    expired += count;
    if (count === 0) return expired;
  }
}

/**
 * The operator's "retry now": failed deliveries of a hook (one, or all) are due again at once, their age limit counted
 * from now. Attempts keep counting, so no (X-Webhook-Id, attempt) pair is sent twice.
 */
export async function retryFailed(db: Db, hookId: string, deliveryId?: string): Promise<number> {
  let retried = 0;
  for (;;) {
    const result = await sql`
      UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), age_from = now()
      WHERE id IN (
        SELECT id FROM webhook_deliveries
        WHERE hook_id = ${hookId} AND status = 'failed' ${deliveryId === undefined ? sql`` : sql`AND id = ${deliveryId}::uuid`}
        ORDER BY seq LIMIT ${BATCH}
      ) AND status = 'failed'`.execute(db);
    const count = Number(result.numAffectedRows ?? 0n);
    retried += count;
    if (count < BATCH) {
      if (retried > 0) await sql`SELECT pg_notify(${WEBHOOKS_CHANNEL}, '')`.execute(db);
      return retried;
    }
  }
}

/** Deletes delivered, failed and cancelled deliveries older than the retention window, in bounded batches until done. */
export async function purgeDeliveries(db: Db, retentionMs: number): Promise<number> {
  let purged = 0;
  for (;;) {
    const result = await sql`
      DELETE FROM webhook_deliveries
      WHERE id IN (
        SELECT id FROM webhook_deliveries
        WHERE status IN ('delivered', 'failed', 'cancelled') AND created_at < now() - make_interval(secs => ${retentionMs / 1000})
        ORDER BY created_at LIMIT ${BATCH}
      )`.execute(db);
    const count = Number(result.numAffectedRows ?? 0n);
    purged += count;
    if (count < BATCH) return purged;
  }
}

/** The hooks that have deliveries kept (unfinished, failed or cancelled), found hook by hook through the indexes. */
export async function hooksWithDeliveries(db: Db): Promise<string[]> {
  const result = await sql<{ hook_id: string }>`
    WITH RECURSIVE unfinished(hook_id) AS (
      (SELECT hook_id FROM webhook_deliveries WHERE status IN ('pending', 'sending') ORDER BY hook_id LIMIT 1)
      UNION ALL
      SELECT (SELECT d.hook_id FROM webhook_deliveries d WHERE d.status IN ('pending', 'sending') AND d.hook_id > u.hook_id ORDER BY d.hook_id LIMIT 1)
      FROM unfinished u WHERE u.hook_id IS NOT NULL
    ),
    ended(hook_id) AS (
      (SELECT hook_id FROM webhook_deliveries WHERE status IN ('failed', 'cancelled') ORDER BY hook_id LIMIT 1)
      UNION ALL
      SELECT (SELECT d.hook_id FROM webhook_deliveries d WHERE d.status IN ('failed', 'cancelled') AND d.hook_id > e.hook_id ORDER BY d.hook_id LIMIT 1)
      FROM ended e WHERE e.hook_id IS NOT NULL
    )
    SELECT hook_id FROM unfinished WHERE hook_id IS NOT NULL
    UNION
    SELECT hook_id FROM ended WHERE hook_id IS NOT NULL`.execute(db);
  return result.rows.map((row) => row.hook_id);
}

export interface HookDeliveryCounts {
  hook_id: string;
  pending: number;
  failed: number;
  cancelled: number;
  /** Age of the hook's oldest unfinished delivery, in seconds (0 when there is none). */
  oldest_pending_seconds: number;
  last_error: string | null;
  last_error_at: Micros | null;
}

/** Per hook: unfinished, failed and cancelled counts (from the partial indexes, never delivered rows), the oldest, the last error. */
export async function countDeliveriesByHook(db: Db, hookIds: readonly string[]): Promise<HookDeliveryCounts[]> {
  if (hookIds.length === 0) return [];
  const ids = sql`ARRAY[${sql.join(hookIds.map((id) => sql`${id}::text`))}]`;
  const result = await sql<HookDeliveryCounts>`
    SELECT h.hook_id,
      (SELECT count(*) FROM webhook_deliveries d WHERE d.hook_id = h.hook_id AND d.status IN ('pending', 'sending'))::int AS pending,
      (SELECT count(*) FROM webhook_deliveries d WHERE d.hook_id = h.hook_id AND d.status = 'failed')::int AS failed,
      (SELECT count(*) FROM webhook_deliveries d WHERE d.hook_id = h.hook_id AND d.status = 'cancelled')::int AS cancelled,
      coalesce(extract(epoch FROM now() - (
        SELECT d.created_at FROM webhook_deliveries d WHERE d.hook_id = h.hook_id AND d.status IN ('pending', 'sending') ORDER BY d.seq LIMIT 1
      )), 0)::float8 AS oldest_pending_seconds,
      e.last_error, e.last_error_at
    FROM unnest(${ids}) AS h(hook_id)
    LEFT JOIN webhook_hook_errors e ON e.hook_id = h.hook_id`.execute(db);
  return result.rows;
}

export interface FailedDelivery {
  id: string;
  user_id: string | null;
  event_type: string;
  attempts: number;
  last_error: string | null;
  last_status: number | null;
  created_at: Micros;
}

/** A hook's most recent failed deliveries. */
export async function listFailed(db: Db, hookId: string, limit: number): Promise<FailedDelivery[]> {
  const result = await sql<FailedDelivery>`
    SELECT id::text AS id, user_id, event_type, attempts, last_error, last_status, created_at FROM webhook_deliveries
    WHERE hook_id = ${hookId} AND status = 'failed'
    ORDER BY seq DESC LIMIT ${limit}`.execute(db);
  return result.rows;
}

/** A hard deletion: the user's deliveries go, whatever their state (the deletion's own user.deleted is written after). */
export async function deleteUserDeliveries(trx: Tx, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await sql`DELETE FROM webhook_deliveries WHERE user_id IN (${sql.join(userIds.map((id) => sql`${id}`))})`.execute(trx);
}
