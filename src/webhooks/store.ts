// The outbox of webhook deliveries: one row per event and hook, written in the same transaction as the change that
// causes the event, and sent by the dispatcher (dispatcher.ts). A delivery is claimed like a task: FOR UPDATE SKIP
// LOCKED with a lease, and every write that ends an attempt is fenced on (lease owner, attempt).
import { sql } from 'kysely';
import type { Db, Micros, Tx } from '../db/schema.js';

/** NOTIFY channel that wakes dispatchers when deliveries are written. */
export const WEBHOOKS_CHANNEL = 'stream_webhooks';

export interface NewDelivery {
  id: string;
  hookId: string;
  userId: string;
  url: string;
  timeoutMs: number;
  body: string;
}

/** Writes deliveries inside the change's transaction; the NOTIFY reaches dispatchers when it commits. */
export async function insertDeliveries(trx: Tx, deliveries: readonly NewDelivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  await sql`
    INSERT INTO webhook_deliveries (id, hook_id, user_id, url, timeout_ms, body)
    VALUES ${sql.join(deliveries.map((d) => sql`(${d.id}::uuid, ${d.hookId}, ${d.userId}, ${d.url}, ${d.timeoutMs}, ${d.body})`))}`.execute(trx);
  await sql`SELECT pg_notify(${WEBHOOKS_CHANNEL}, '')`.execute(trx);
}

export interface ClaimedDelivery {
  id: string;
  hook_id: string;
  url: string;
  timeout_ms: number;
  body: string;
  attempts: number;
  created_at: Micros;
  lease_owner: string;
}

/**
 * Claims up to `limit` deliveries that are due: pending ones whose time has come and ones whose lease ran out. A
 * delivery waits while an earlier one of the same hook and user is still pending or being sent, so that each hook
 * receives a user's events in commit order; hooks in `busyHooks` (as many in flight as this dispatcher lets one hook
 * have) are skipped, so that a slow receiver holds back nobody else.
 */
export async function claimDeliveries(db: Db, owner: string, limit: number, busyHooks: readonly string[], leaseMarginMs: number): Promise<ClaimedDelivery[]> {
  const busy = busyHooks.length > 0 ? sql`ARRAY[${sql.join(busyHooks.map((hook) => sql`${hook}::text`))}]` : sql`'{}'::text[]`;
  const result = await sql<ClaimedDelivery>`
    UPDATE webhook_deliveries SET
      status = 'sending',
      attempts = attempts + 1,
      lease_owner = ${owner},
      lease_expires_at = now() + make_interval(secs => (timeout_ms + ${leaseMarginMs}) / 1000.0)
    WHERE id IN (
      SELECT d.id FROM webhook_deliveries d
      WHERE ((d.status = 'pending' AND d.next_attempt_at <= now()) OR (d.status = 'sending' AND d.lease_expires_at < now()))
        AND NOT (d.hook_id = ANY(${busy}))
        AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries e
          WHERE e.hook_id = d.hook_id AND e.user_id = d.user_id AND e.seq < d.seq AND e.status IN ('pending', 'sending'))
      ORDER BY d.seq
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id::text AS id, hook_id, url, timeout_ms, body, attempts, created_at, lease_owner`.execute(db);
  return result.rows;
}

const heldBy = (delivery: ClaimedDelivery) =>
  sql`id = ${delivery.id}::uuid AND lease_owner = ${delivery.lease_owner} AND attempts = ${delivery.attempts} AND status = 'sending'`;

/** Records a 2xx answer. False when the attempt was fenced off (its lease ran out and another took it). */
export async function markDelivered(db: Db, delivery: ClaimedDelivery): Promise<boolean> {
  const result = await sql`
    UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
    WHERE ${heldBy(delivery)}`.execute(db);
  return Number(result.numAffectedRows ?? 0n) === 1;
}

/** Records a failed attempt: retried after `retryDelayMs`, or failed for good when that is null. */
export async function markAttemptFailed(db: Db, delivery: ClaimedDelivery, error: string, retryDelayMs: number | null): Promise<boolean> {
  const result = await sql`
    UPDATE webhook_deliveries SET
      status = ${retryDelayMs === null ? 'failed' : 'pending'},
      next_attempt_at = ${retryDelayMs === null ? sql`next_attempt_at` : sql`now() + make_interval(secs => ${retryDelayMs / 1000})`},
      lease_owner = NULL, lease_expires_at = NULL, last_error = ${error.slice(0, 500)}
    WHERE ${heldBy(delivery)}`.execute(db);
  return Number(result.numAffectedRows ?? 0n) === 1;
}

/**
 * Hands a delivery back (shutdown): it is due again at once. Its attempt keeps its number, so that the next one, which
 * may reach the receiver after this one did, is never sent under the same (X-Webhook-Id, attempt).
 */
export async function releaseDelivery(db: Db, delivery: ClaimedDelivery): Promise<void> {
  await sql`
    UPDATE webhook_deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL
    WHERE ${heldBy(delivery)}`.execute(db);
}

/** Deletes delivered and failed deliveries older than the retention window. */
export async function purgeDeliveries(db: Db, retentionMs: number): Promise<number> {
  const result = await sql`
    DELETE FROM webhook_deliveries
    WHERE status IN ('delivered', 'failed') AND created_at < now() - make_interval(secs => ${retentionMs / 1000})`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export interface DeliveryCounts {
  pending: number;
  delivered: number;
  failed: number;
  /** Age of the oldest delivery not yet delivered nor failed, in seconds (0 when there is none). */
  oldest_pending_seconds: number;
}

export async function countDeliveries(db: Db): Promise<DeliveryCounts> {
  const result = await sql<DeliveryCounts>`
    SELECT count(*) FILTER (WHERE status IN ('pending', 'sending'))::int AS pending,
           count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
           count(*) FILTER (WHERE status = 'failed')::int AS failed,
           coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status IN ('pending', 'sending'))), 0)::float8 AS oldest_pending_seconds
    FROM webhook_deliveries`.execute(db);
  return result.rows[0]!;
}

/** A hard deletion: the user's deliveries go, whatever their state (the deletion's own user.deleted is written after). */
export async function deleteUserDeliveries(trx: Tx, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await sql`DELETE FROM webhook_deliveries WHERE user_id IN (${sql.join(userIds.map((id) => sql`${id}`))})`.execute(trx);
}
