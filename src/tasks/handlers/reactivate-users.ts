// ReactivateUsers: clears deactivated_at (a user already active is left as it is). Result mirrors DeactivateUsers.
import { applyReactivation, type ReactivateOptions } from '../../users/lifecycle.js';
import { userV2 } from '../../users/representation.js';
import type { TaskHandler } from '../worker.js';

export const reactivateUsers: TaskHandler = async (trx, task) => {
  const { user_ids, options } = task.payload as { user_ids: string[]; options: ReactivateOptions };
  const rows = await applyReactivation(trx, user_ids, options);
  return { users: rows.map(userV2) };
};
