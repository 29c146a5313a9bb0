// The task table's operations. Every write that ends a run is fenced on (lease owner, attempt): a worker whose lease
// ran out and was taken over can no longer record anything.
import { randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder, type RawBuilder } from 'kysely';
import type { Database, Db, JsonObject, Micros, TaskStatus, Tx } from '../db/schema.js';
import { toJsonText } from '../lib/json.js';
import { notifyAfterCommit } from '../db/notify.js';
import { withStatementTimeout } from '../db/database.js';
import { withConflictRetries } from '../db/locks.js';
// A type-only import (erased at run time): the table imports the runners, which import this store.
import type { TaskType } from './table.js';

/** NOTIFY channel that wakes workers when a task is enqueued. */
export const TASKS_CHANNEL = 'stream_tasks';

export type { TaskType } from './table.js';

export interface ClaimedTask {
  id: string;
  type: string;
  payload: JsonObject;
  attempts: number;
  max_attempts: number;
  lease_owner: string;
}

export interface TaskRecord {
  id: string;
  type: string;
  status: TaskStatus;
  payload: JsonObject;
  /** The result as stored JSON text, so nanosecond integers in it stay exact. */
  result_text: string | null;
  error: { type: string; description: string } | null;
  created_at: Micros;
  updated_at: Micros;
  /** Runs started so far, and the most it gets. */
  attempts: number;
  max_attempts: number;
}

/**
 * Inserts a task of a type of the task table (table.ts) inside the caller's transaction. The workers' wake-up is sent once that transaction has committed,
 * outside it (db/notify.ts: a NOTIFY inside would serialize commits across the cluster), so a worker never wakes for
 * a task it cannot see yet.
 */
export async function enqueueTask(
  trx: Tx,
  type: TaskType,
  payload: JsonObject,
  options: { maxAttempts: number },
): Promise<string> {
  const id = randomUUID();
  await sql`
    INSERT INTO tasks (id, type, payload, max_attempts)
    VALUES (${id}::uuid, ${type}, ${toJsonText(payload)}::jsonb, ${options.maxAttempts})`.execute(trx);
  await notifyAfterCommit(trx, TASKS_CHANNEL);
  return id;
}

/** Which task types a claim takes: only these, or all but these. */
export type TypeFilter = { only: readonly string[] } | { except: readonly string[] };

function typeCondition(types: TypeFilter | undefined) {
  if (!types) return sql`TRUE`;
  const list = 'only' in types ? types.only : types.except;
  if (list.length === 0) return 'only' in types ? sql`FALSE` : sql`TRUE`;
  const array = sql`ARRAY[${sql.join(list.map((type) => sql`${type}::text`))}]`;
  return 'only' in types ? sql`type = ANY(${array})` : sql`NOT (type = ANY(${array}))`;
}

/**
 * Per-user order, for a candidate `tasks` row: an unfinished task accepted before it (lower seq) that shares a user
 * with it. Such a task holds the candidate back, whatever their types, whether it is running, waiting for a retry or
 * still pending, and whichever instance holds it (migration 012). Tasks on other users are not held back.
 */
const earlierOnSameUsers = sql`
  SELECT 1 FROM tasks AS earlier
  WHERE earlier.status IN ('pending', 'waiting', 'running')
    AND (earlier.payload -> 'user_ids') ?| ARRAY(SELECT jsonb_array_elements_text(tasks.payload -> 'user_ids'))
    AND earlier.seq < tasks.seq`;

/**
 * Claims up to `limit` runnable tasks (of the types `types` lets through): queued ones whose time has come and running
 * ones whose lease expired. One statement, so the claim transaction is as short as it can be; SKIP LOCKED lets
 * several workers claim at once without waiting on each other or taking the same task. The first status condition
 * repeats the claim index's predicate: without it the planner cannot tell that the OR below implies it, and sorts
 * every unfinished task instead of reading the index in order. `= ANY(ARRAY(…))` rather than `IN (…)`: the ids are
 * then found through the primary key, where a join would often scan the whole table, finished tasks included.
 * A task is not claimed while an earlier unfinished task shares a user with it (earlierOnSameUsers): tasks on one user
 * take effect in the order they were accepted.
 */
export async function claimTasks(db: Db, owner: string, limit: number, leaseMs: number, types?: TypeFilter): Promise<ClaimedTask[]> {
  // RETURNING gives the rows in no particular order: they are sorted again, so that a batch runs in queue order.
  const result = await sql<ClaimedTask>`
    WITH claimed AS (
      UPDATE tasks SET
        status = 'running',
        attempts = attempts + 1,
        lease_owner = ${owner},
        lease_expires_at = now() + make_interval(secs => ${leaseMs / 1000}),
        updated_at = now()
      WHERE id = ANY(ARRAY(
        SELECT id FROM tasks
        WHERE status IN ('pending', 'waiting', 'running')
          AND ((status IN ('pending', 'waiting') AND run_at <= now()) OR (status = 'running' AND lease_expires_at < now()))
          AND ${typeCondition(types)}
          AND NOT EXISTS (${earlierOnSameUsers})
        ORDER BY run_at, created_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ))
      RETURNING id, type, payload, attempts, max_attempts, lease_owner, run_at, created_at
    )
    SELECT id, type, payload, attempts, max_attempts, lease_owner FROM claimed ORDER BY run_at, created_at`.execute(db);
  return result.rows;
}

/** The fence of every write that ends or extends a run: the task is still this run's (same owner and attempt). */
function heldBy(task: ClaimedTask) {
  return (eb: ExpressionBuilder<Database, 'tasks'>) =>
    eb.and([
      eb('id', '=', task.id),
      eb('lease_owner', '=', task.lease_owner),
      eb('attempts', '=', task.attempts),
      eb('status', '=', 'running'),
    ]);
}

/** Extends a running task's lease; false when the lease is no longer this worker's. */
export async function renewLease(db: Db, task: ClaimedTask, leaseMs: number): Promise<boolean> {
  const result = await db
    .updateTable('tasks')
    .set({ lease_expires_at: sql`now() + make_interval(secs => ${leaseMs / 1000})` as never })
    .where(heldBy(task))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** What every end of a run writes besides its outcome: the lease is given up. */
const endOfRun = () => ({ lease_owner: null, lease_expires_at: null, updated_at: sql`now()` as never });

/** Records success; must run in the transaction that applied the task's effects. False when fenced off. */
export async function completeTask(trx: Tx, task: ClaimedTask, result: unknown): Promise<boolean> {
  const updated = await trx
    .updateTable('tasks')
    .set({
      status: 'completed',
      result: toJsonText(result ?? {}),
      error: null,
      ...endOfRun(),
    })
    .where(heldBy(task))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

class FencedOff extends Error {}

/**
 * Runs a task's effects and records its completion in one transaction: the effects count only if the completion does
 * (the run still holds the task), so that each task takes effect exactly once. False when fenced off (rolled back).
 */
export function runAndComplete(
  db: Db,
  task: ClaimedTask,
  effects: (trx: Tx) => Promise<unknown>,
  options: { statementTimeoutMs?: number } = {},
): Promise<boolean> {
  return inFencedTransaction(db, options, async (trx) => {
    if (!(await completeTask(trx, task, await effects(trx)))) throw new FencedOff();
  });
}

/**
 * A task run's transaction, with the task's own statement_timeout (a task may take longer than a request) for this
 * transaction only. `body` throws FencedOff when a completion finds the run no longer held: false, all rolled back.
 */
async function inFencedTransaction(db: Db, options: { statementTimeoutMs?: number }, body: (trx: Tx) => Promise<void>): Promise<boolean> {
  try {
    // A deadlock or serialization failure is retried at once (src/db/locks.ts); past the retries the attempt fails
    // with the database's error, and the task is retried later like any failed attempt.
    // The client-side query timeout follows the task's statement_timeout (src/db/database.ts).
    const run = () =>
      db.transaction().execute(async (trx) => {
        if (options.statementTimeoutMs !== undefined) {
          await sql`SELECT set_config('statement_timeout', ${String(options.statementTimeoutMs)}, true)`.execute(trx);
        }
        await body(trx);
      });
    await withConflictRetries(
      () => (options.statementTimeoutMs === undefined ? run() : withStatementTimeout(options.statementTimeoutMs, run)),
      undefined,
      (error) => error,
    );
    return true;
  } catch (error) {
    if (error instanceof FencedOff) return false;
    throw error;
  }
}

/** The runs of `tasks` as a VALUES list (id, attempt), to fence a write to many tasks at once. */
function runsOf(tasks: readonly ClaimedTask[], extra: (task: ClaimedTask, index: number) => RawBuilder<unknown> = () => sql``) {
  return sql.join(tasks.map((task, index) => sql`(${task.id}::uuid, ${task.attempts}::int${extra(task, index)})`));
}

/** Extends the leases of several running tasks in one statement; each still fenced on its own run. */
export async function renewLeases(db: Db, tasks: readonly ClaimedTask[], leaseMs: number): Promise<void> {
  if (tasks.length === 0) return;
  await sql`
    UPDATE tasks SET lease_expires_at = now() + make_interval(secs => ${leaseMs / 1000})
    FROM (VALUES ${runsOf(tasks)}) AS run (id, attempts)
    WHERE tasks.id = run.id AND tasks.attempts = run.attempts AND tasks.lease_owner = ${tasks[0]!.lease_owner}
      AND tasks.status = 'running'`.execute(db);
}

/**
 * Records the success of several tasks of one owner in one statement, each fenced on its own run; must run in the
 * transaction that applied their effects. Returns how many were still held (all of them, unless some were fenced off).
 */
export async function completeTasks(trx: Tx, tasks: readonly ClaimedTask[], results: readonly unknown[]): Promise<number> {
  if (tasks.length === 0) return 0;
  const updated = await sql`
    UPDATE tasks SET status = 'completed', result = run.result::jsonb, error = NULL,
      lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
    FROM (VALUES ${runsOf(tasks, (_task, index) => sql`, ${toJsonText(results[index] ?? {})}::text`)}) AS run (id, attempts, result)
    WHERE tasks.id = run.id AND tasks.attempts = run.attempts AND tasks.lease_owner = ${tasks[0]!.lease_owner}
      AND tasks.status = 'running'`.execute(trx);
  return Number(updated.numAffectedRows ?? 0n);
}

/**
 * Runs the effects of several tasks (one owner's) and records all their completions in one transaction: either every
 * task still held by its run completes, or nothing is applied (false when any was fenced off; an error thrown by the
 * effects rolls back too). `effects` returns each task's result, in the order of `tasks`.
 */
export function runAndCompleteAll(
  db: Db,
  tasks: readonly ClaimedTask[],
  effects: (trx: Tx) => Promise<readonly unknown[]>,
  options: { statementTimeoutMs?: number } = {},
): Promise<boolean> {
  return inFencedTransaction(db, options, async (trx) => {
    const results = await effects(trx);
    if (results.length !== tasks.length) throw new Error(`a batch of ${tasks.length} tasks returned ${results.length} results`);
    if ((await completeTasks(trx, tasks, results)) !== tasks.length) throw new FencedOff();
  });
}

/** Records a failed attempt: retried later with exponential backoff, or failed for good after the last attempt. */
export async function failAttempt(
  db: Db,
  task: ClaimedTask,
  error: { type: string; description: string },
  retryDelayMs: number | null,
): Promise<boolean> {
  const final = retryDelayMs === null;
  const updated = await db
    .updateTable('tasks')
    .set({
      status: final ? 'failed' : 'waiting',
      error: JSON.stringify(error),
      result: final ? JSON.stringify({ description: error.description }) : null,
      run_at: final ? (sql`run_at` as never) : (sql`now() + make_interval(secs => ${retryDelayMs / 1000})` as never),
      ...endOfRun(),
    })
    .where(heldBy(task))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** Hands a task back untouched (graceful shutdown): another worker may claim it at once. */
export async function releaseTask(db: Db, task: ClaimedTask): Promise<void> {
  await db
    .updateTable('tasks')
    .set({
      status: 'pending',
      attempts: sql`greatest(attempts - 1, 0)` as never,
      ...endOfRun(),
    })
    .where(heldBy(task))
    .execute();
}

export async function findTask(db: Db, id: string): Promise<TaskRecord | undefined> {
  // (attempts are read too, for the operator's dashboard; the API's answer leaves them out)
  const result = await sql<TaskRecord>`
    SELECT id::text AS id, type, status, payload, result::text AS result_text, error, created_at, updated_at, attempts, max_attempts
    FROM tasks WHERE id = ${id}::uuid`.execute(db);
  return result.rows[0];
}

export interface TaskQueueState {
  /** Unfinished tasks by status (pending, waiting, running); finished ones are counted by the attempt counters. */
  byStatus: Record<'pending' | 'waiting' | 'running', number>;
  /** Age of the oldest task whose time to run has come and that no worker holds, in seconds (0 when none). */
  oldestPendingSeconds: number;
}

/** The queue as an operator watches it. Reads only unfinished tasks, through the claim index. */
export async function queueState(db: Db): Promise<TaskQueueState> {
  const result = await sql<{ pending: number; waiting: number; running: number; oldest: number }>`
    SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
           count(*) FILTER (WHERE status = 'waiting')::int AS waiting,
           count(*) FILTER (WHERE status = 'running')::int AS running,
           coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE status IN ('pending', 'waiting') AND run_at <= now())), 0)::float8 AS oldest
    FROM tasks WHERE status IN ('pending', 'waiting', 'running')`.execute(db);
  const row = result.rows[0]!;
  return { byStatus: { pending: row.pending, waiting: row.waiting, running: row.running }, oldestPendingSeconds: row.oldest };
}

/** A task as the operator's list shows it. */
export interface TaskSummary {
  id: string;
  type: string;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  created_at: Micros;
  updated_at: Micros;
}

/** Tasks, newest first, a page at a time. */
export async function listTaskSummaries(db: Db, page: { limit: number; offset: number }): Promise<TaskSummary[]> {
  const result = await sql<TaskSummary>`
    SELECT id::text AS id, type, status, attempts, max_attempts, created_at, updated_at
    FROM tasks ORDER BY created_at DESC, id DESC
    LIMIT ${page.limit} OFFSET ${page.offset}`.execute(db);
  return result.rows;
}

const textArray = (values: readonly string[]) => sql`ARRAY[${sql.join(values.map((value) => sql`${value}::text`))}]::text[]`;

/**
 * Rewrites the users of these ids in the results of finished tasks that name them (DeactivateUsers and
 * ReactivateUsers keep `{users: [...]}`) with `rewrite`, a jsonb expression over the stored user `u`.
 */
async function rewriteResultUsers(trx: Tx, userIds: readonly string[], rewrite: RawBuilder<unknown>): Promise<void> {
  if (userIds.length === 0) return;
  const ids = textArray(userIds);
  await sql`
    UPDATE tasks SET result = jsonb_set(result, '{users}', (
      SELECT coalesce(jsonb_agg(CASE WHEN u ->> 'id' = ANY(${ids}) THEN ${rewrite} ELSE u END ORDER BY n), '[]'::jsonb)
      FROM jsonb_array_elements(result -> 'users') WITH ORDINALITY AS e(u, n)))
    WHERE payload -> 'user_ids' ?| ${ids} AND status = 'completed' AND jsonb_typeof(result -> 'users') = 'array'`.execute(trx);
}

/** Hard deletion: a user in a finished task's result becomes its id alone. */
export function reduceResultUsersToIds(trx: Tx, userIds: readonly string[]): Promise<void> {
  return rewriteResultUsers(trx, userIds, sql`jsonb_build_object('id', u -> 'id')`);
}

/** Pruning: a user in a finished task's result loses what pruning clears in the user (lifecycle/store.ts pruneDeletedUsers). */
export function pruneResultUsers(trx: Tx, userIds: readonly string[]): Promise<void> {
  return rewriteResultUsers(trx, userIds, sql`(u - 'name' - 'image' - 'teams_role' - 'privacy_settings') || '{"custom": {}, "language": ""}'::jsonb`);
}

/** Deletes up to `limit` tasks finished more than `retentionMs` ago, oldest first (their export files with them). */
export async function purgeFinishedTasks(db: Db, retentionMs: number, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM tasks WHERE id IN (
      SELECT id FROM tasks
      WHERE status IN ('completed', 'failed') AND updated_at < now() - make_interval(secs => ${retentionMs / 1000})
      ORDER BY updated_at
      LIMIT ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
