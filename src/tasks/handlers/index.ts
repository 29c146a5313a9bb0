import type { TaskType } from '../queue.js';
import type { TaskHandler } from '../worker.js';
import { deactivateUsers } from './deactivate-users.js';
import { deleteUsers } from './delete-users.js';
import { exportUsers } from './export-users.js';
import { reactivateUsers } from './reactivate-users.js';

export const taskHandlers: Record<TaskType, TaskHandler> = {
  DeactivateUsers: deactivateUsers,
  ReactivateUsers: reactivateUsers,
  DeleteUsers: deleteUsers,
  ExportUsers: exportUsers,
};
