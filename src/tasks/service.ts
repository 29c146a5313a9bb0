// Reading a task as clients poll it (GET tasks/{id}), in either representation.
import type { ServiceContext } from '../context.js';
import type { Db, Micros } from '../db/schema.js';
import { signedExportUrl } from '../exports/service.js';
import { notFound } from '../http/errors.js';
import { toJsonText } from '../lib/json.js';
import { taskTypeEntry } from './table.js';
import { findTask, listTaskSummaries, purgeFinishedTasks, queueState, type TaskQueueState, type TaskRecord, type TaskSummary } from './store.js';

/** How a path family writes a task: its date-times, and its stored result (JSON text whose dates are integer ns). */
export interface TaskRepresentation {
  time(micros: Micros): unknown;
  result(type: string, text: string): string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The JSON text of a task (without `duration`). Written by hand rather than by the schema serializer: the stored
 * result is JSON text whose nanosecond integers must reach the client exactly, which a parse into JS numbers would
 * round. An export's result gets a download link signed now, based at `baseUrl`.
 */
export async function getTaskText(ctx: ServiceContext, id: string, representation: TaskRepresentation, baseUrl: string): Promise<string> {
  const task = UUID.test(id) ? await findTask(ctx.db, id) : undefined;
  if (!task) throw notFound(`task "${id}" does not exist`);

  let resultText = task.result_text;
  if (taskTypeEntry(task.type)?.result === 'export-file' && task.status === 'completed' && resultText) {
    const { export_id } = JSON.parse(resultText) as { export_id: string };
    const url = await signedExportUrl(ctx.db, ctx.credentials().apiSecret, baseUrl, export_id);
    resultText = JSON.stringify(url ? { url } : { description: 'the export file has expired' });
  }
  if (resultText) resultText = representation.result(task.type, resultText);
  const head = toJsonText({
    task_id: task.id,
    status: task.status,
    created_at: representation.time(task.created_at),
    updated_at: representation.time(task.updated_at),
    ...(task.error ? { error: task.error } : {}),
  });
  return `${head.slice(0, -1)}${resultText ? `,"result":${resultText}` : ''}}`;
}

/** Depth and age of the task queue, for the metrics and the dashboard. */
export function taskQueueState(db: Db): Promise<TaskQueueState> {
  return queueState(db);
}
export type { TaskQueueState } from './store.js';

/** Tasks for the operator's dashboard, newest first. */
export function listTasks(ctx: ServiceContext, page: { limit: number; offset: number }): Promise<TaskSummary[]> {
  return listTaskSummaries(ctx.db, page);
}

/** A task as stored (type, status, attempts, payload), for the operator's dashboard; 404 as GetTask answers it. */
export async function getTaskRecord(ctx: ServiceContext, id: string): Promise<TaskRecord> {
  const task = UUID.test(id) ? await findTask(ctx.db, id) : undefined;
  if (!task) throw notFound(`task "${id}" does not exist`);
  return task;
}

/** Finished tasks deleted per statement: each batch is its own short statement, so none holds the database long. */
const PURGE_BATCH = 500;
/** Batches per housekeeping pass at most; what is left waits for the next pass. */
const PURGE_BATCHES = 20;

/**
 * Housekeeping: deletes tasks finished (completed or failed) more than `retentionMs` ago, with their results and
 * export files, oldest first, in bounded batches. Returns how many went.
 */
export async function purgeOldTasks(db: Db, retentionMs: number, batch = PURGE_BATCH): Promise<number> {
  let purged = 0;
  for (let i = 0; i < PURGE_BATCHES; i++) {
    const deleted = await purgeFinishedTasks(db, retentionMs, batch);
    purged += deleted;
    if (deleted < batch) break;
  }
  return purged;
}
