// What each task type runs: a service function, given the worker's transaction (which also records the task's
// completion, fenced on its lease, so that its effects apply exactly once).
import type { ServiceContext } from '../context.js';
import { runExportUsersTask } from '../exports/service.js';
import {
  runDeactivateUsersTask,
  runDeactivateUsersTasks,
  runDeleteUsersTask,
  runReactivateUsersTask,
  type DeactivateOptions,
  type DeleteOptions,
  type ReactivateOptions,
} from '../lifecycle/service.js';
import type { TaskType } from './store.js';
import type { BatchTaskHandler, TaskHandler } from './worker.js';

type UsersPayload<Options> = { user_ids: string[]; options: Options };

export function taskHandlers(ctx: ServiceContext): Record<TaskType, TaskHandler> {
  return {
    DeactivateUsers: (trx, task) => runDeactivateUsersTask(ctx, trx, task.payload as UsersPayload<DeactivateOptions>),
    ReactivateUsers: (trx, task) => runReactivateUsersTask(ctx, trx, task.payload as UsersPayload<ReactivateOptions>),
    DeleteUsers: (trx, task) => runDeleteUsersTask(ctx, trx, task.payload as UsersPayload<DeleteOptions>),
    ExportUsers: (trx, task) => runExportUsersTask(ctx, trx, task.id, task.payload as { user_ids: string[] }),
  };
}

/**
 * The types that also run many tasks in one transaction (a backlog of one-user deactivations drains many times
 * faster so). Each gives the results, user changes and events of its tasks run one after another.
 */
export function taskBatchHandlers(ctx: ServiceContext): Record<string, BatchTaskHandler> {
  return {
    DeactivateUsers: (trx, tasks) => runDeactivateUsersTasks(ctx, trx, tasks.map((task) => task.payload as UsersPayload<DeactivateOptions>)),
  };
}
