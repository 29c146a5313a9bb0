// What the worker runs for each task type, made from the task table (table.ts): each type's runner, given the
// worker's transaction (which also records the task's completion, fenced on its lease, so that its effects apply
// exactly once), and the batch runners of the types that have one.
import type { ServiceContext } from '../context.js';
import { TASK_TYPE_NAMES, TASK_TYPES, type TaskType, type TaskTypeEntry } from './table.js';
import type { BatchTaskHandler, TaskHandler } from './worker.js';

type Payload = Parameters<TaskTypeEntry['run']>[2]['payload'];

export function taskHandlers(ctx: ServiceContext): Record<TaskType, TaskHandler> {
  return Object.fromEntries(
    TASK_TYPE_NAMES.map((type) => {
      const entry: TaskTypeEntry = TASK_TYPES[type];
      const handler: TaskHandler = (trx, task) => entry.run(ctx, trx, { id: task.id, payload: task.payload as Payload });
      return [type, handler];
    }),
  ) as Record<TaskType, TaskHandler>;
}

/**
 * The types that also run many tasks in one transaction (a backlog of one-user deactivations drains many times
 * faster so). Each gives the results, user changes and events of its tasks run one after another.
 */
export function taskBatchHandlers(ctx: ServiceContext): Record<string, BatchTaskHandler> {
  return Object.fromEntries(
    TASK_TYPE_NAMES.flatMap((type) => {
      const { runBatch } = TASK_TYPES[type] as TaskTypeEntry;
      if (!runBatch) return [];
      const handler: BatchTaskHandler = (trx, tasks) => runBatch(ctx, trx, tasks.map((task) => task.payload as Payload));
      return [[type, handler]];
    }),
  );
}
