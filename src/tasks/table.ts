// Every task type, declared once, as operations are in api/operations.ts: its name, the schema of its payload, its
// runner (and its batch runner, for a type whose backlog drains many tasks per transaction), how GET tasks/{id} writes
// its result, and its bulk action on the dashboard's users page. The worker's handlers (handlers.ts), the type
// enqueueTask accepts (store.ts), the representation of results (api/representation.ts, service.ts) and the dashboard
// read this table. It imports the runners, so nothing it imports may import it (test/architecture.test.ts).
import type { Static, TSchema } from '@sinclair/typebox';
import type { ServiceContext } from '../context.js';
import type { Tx } from '../db/schema.js';
import { runExportUsersTask } from '../exports/tasks.js';
import { runDeactivateUsersTask, runDeactivateUsersTasks, runDeleteUsersTask, runReactivateUsersTask } from '../lifecycle/tasks.js';
import { DeactivateUsersPayload, DeleteUsersPayload, ExportUsersPayload, ReactivateUsersPayload } from './payloads.js';

/**
 * How a type's stored result is read back (GET tasks/{id}): as stored; with the users in it written in the caller's
 * family (stored in the v2 shape); or, for an export, as a download link signed when it is read.
 */
export type TaskResult = 'as-stored' | 'users' | 'export-file';

export interface TaskTypeEntry<Payload extends TSchema = TSchema> {
  /** What `tasks.payload` holds (as the request side wrote it). */
  payload: Payload;
  /** Applies one task's effects through the worker's transaction and returns its result. Must be idempotent. */
  run(ctx: ServiceContext, trx: Tx, task: { id: string; payload: Static<Payload> }): Promise<unknown>;
  /**
   * Applies several tasks' effects in one transaction and returns their results in order: each exactly what `run`
   * gives when they run one after another in that order (the worker's BatchTaskHandler).
   */
  runBatch?(ctx: ServiceContext, trx: Tx, payloads: Static<Payload>[]): Promise<readonly unknown[]>;
  result: TaskResult;
  /** The bulk action of the dashboard's users page that enqueues it (dashboard/pages/users.ts). */
  dashboardAction?: 'deactivate' | 'reactivate' | 'delete' | 'export';
}

const taskType = <Payload extends TSchema>(entry: TaskTypeEntry<Payload>) => entry;

export const TASK_TYPES = {
  DeactivateUsers: taskType({
    payload: DeactivateUsersPayload,
    run: (ctx, trx, task) => runDeactivateUsersTask(ctx, trx, task.payload),
    runBatch: (ctx, trx, payloads) => runDeactivateUsersTasks(ctx, trx, payloads),
    result: 'users',
    dashboardAction: 'deactivate',
  }),
  ReactivateUsers: taskType({
    payload: ReactivateUsersPayload,
    run: (ctx, trx, task) => runReactivateUsersTask(ctx, trx, task.payload),
    result: 'users',
    dashboardAction: 'reactivate',
  }),
  DeleteUsers: taskType({
    payload: DeleteUsersPayload,
    run: (ctx, trx, task) => runDeleteUsersTask(ctx, trx, task.payload),
    result: 'as-stored',
    dashboardAction: 'delete',
  }),
  ExportUsers: taskType({
    payload: ExportUsersPayload,
    run: (ctx, trx, task) => runExportUsersTask(ctx, trx, task.id, task.payload),
    result: 'export-file',
    dashboardAction: 'export',
  }),
};

export type TaskType = keyof typeof TASK_TYPES;

export const TASK_TYPE_NAMES = Object.keys(TASK_TYPES) as TaskType[];

/** The entry of a type as stored in `tasks.type` (a row may name a type this version no longer has). */
export function taskTypeEntry(type: string): TaskTypeEntry | undefined {
  return Object.hasOwn(TASK_TYPES, type) ? (TASK_TYPES[type as TaskType] as TaskTypeEntry) : undefined;
}
