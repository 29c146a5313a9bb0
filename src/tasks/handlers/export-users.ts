// ExportUsers: writes the users' data as one line-delimited JSON file. The stored result names the file; the
// signed link is made when the task is read (GET /tasks/{id}), from that request's base URL.
import { writeExportFile } from '../../users/export.js';
import type { TaskHandler } from '../worker.js';

export const exportUsers: TaskHandler = async (trx, task) => {
  const { user_ids } = task.payload as { user_ids: string[] };
  return { export_id: await writeExportFile(trx, task.id, user_ids) };
};
