// The one lock order of the server, and the retry policy for the conflicts that remain.
//
// Every transaction that locks users takes its locks in this order, and never goes back to an earlier level:
//
//   1. per-id advisory locks of a user that may not exist yet (a WebSocket connect's user sync: `lockUserId`);
//   2. user rows, in id order (byte order: inLockOrder), with one `lockUserRows` statement (FOR NO KEY UPDATE: it does not block the key-share
//      locks that inserts of blocks and presence rows take on their users). Inserting a user that does not exist yet
//      happens later, in the write itself: an id being inserted is only ever waited on by another insert of it;
//   3. username locks (advisory, per normalized name, in hash order: `lockUsernames`). They come after the rows because
//      the name to lock is often read from the locked row (reactivation, restore, a change of teams);
//   4. everything else the change writes: the users' own statements (already locked), blocks, the webhook outbox,
//      and the task rows last.
//
// Two transactions that follow it cannot wait for each other in a cycle. What remains (a deadlock between statements
// that lock implicitly, such as foreign-key checks, or a serialization failure) is retried by `inTransaction`: the
// whole transaction again, a few times, with jittered backoff. Past the last attempt the request answers 503 with
// Retry-After, never 500. Re-running is safe: a transaction's effects are in the database only, and a rolled-back
// attempt left none.
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { ErrorCode, StreamError } from '../http/errors.js';
import type { Db, Micros, Tx } from './schema.js';

/** SQLSTATEs of a transaction PostgreSQL aborted to break a conflict: deadlock_detected, serialization_failure. */
const RETRYABLE_STATES = new Set(['40P01', '40001']);

export function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_STATES.has(code);
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Backoff before the n-th retry: a random wait in [base·2^(n-1) / 2, base·2^(n-1)]. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 20 };

/** Seconds a client is told to wait after the retries gave up. */
const RETRY_AFTER_SECONDS = 1;

/** The answer when every attempt met a conflict: the database is busy with concurrent changes of the same rows. */
export function conflictError(): StreamError {
  return new StreamError(ErrorCode.Internal, 'the request conflicted with concurrent changes of the same users, try again', {
    statusCode: 503,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
}

/**
 * Runs `work` (one statement or a whole transaction's body) again when PostgreSQL aborted it for a deadlock or a
 * serialization failure; after the last attempt, throws the 503 of conflictError.
 */
export async function withConflictRetries<T>(
  work: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  /** What to throw after the last attempt; default the 503 of conflictError (a task keeps the database's error). */
  exhausted: (error: unknown) => unknown = conflictError,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryableConflict(error)) throw error;
      if (attempt >= policy.attempts) throw exhausted(error);
      const ceiling = policy.baseDelayMs * 2 ** (attempt - 1);
      await sleep(ceiling / 2 + Math.random() * (ceiling / 2));
    }
  }
}

/** A transaction of a service, retried as a whole on a deadlock or serialization failure (see above). */
export function inTransaction<T>(db: Db, body: (trx: Tx) => Promise<T>, policy?: RetryPolicy): Promise<T> {
  return withConflictRetries(() => db.transaction().execute(body), policy);
}

/**
 * User ids in lock order, without repeats: byte order, which is `COLLATE "C"` in SQL whatever the database's
 * collation, and JavaScript's code-unit order for the ASCII ids users have. Statements that lock rows one after
 * another (an upsert's rows, a partial update's UPDATEs) go in this order too.
 */
export function inLockOrder(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

/** What lockUserRows returns of each user it locked. */
export interface LockedUser {
  id: string;
  deactivated_at: Micros | null;
  deleted_at: Micros | null;
  deletion: Record<string, unknown> | null;
  deletion_applied: string | null;
}

/** Level 2: locks the users that exist among `ids`, in id order, in one statement. */
export async function lockUserRows(trx: Tx, ids: readonly string[]): Promise<LockedUser[]> {
  if (ids.length === 0) return [];
  const sorted = inLockOrder(ids);
  const result = await sql<LockedUser>`
    SELECT id, deactivated_at, deleted_at, deletion, deletion_applied FROM users
    WHERE id IN (${sql.join(sorted.map((id) => sql`${id}`))})
    ORDER BY id COLLATE "C"
    FOR NO KEY UPDATE`.execute(trx);
  return result.rows;
}

/** Level 1: serializes concurrent writers of one user id that start from "does it exist?" (WebSocket connects). */
export async function lockUserId(trx: Tx, purpose: string, userId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${purpose}:${userId}`}, 0))`.execute(trx);
}
