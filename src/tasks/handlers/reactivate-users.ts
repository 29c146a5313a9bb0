// ReactivateUsers: clears deactivated_at (a user already active is left as it is). Result mirrors DeactivateUsers.
// With unique usernames on, a user whose name was taken while it was deactivated fails the whole task (nothing is
// reactivated; see applyReactivationUniquely).
import { applyReactivationUniquely, type ReactivateOptions } from '../../users/lifecycle.js';
import { userV2 } from '../../users/representation.js';
import type { TaskHandler } from '../worker.js';

export const reactivateUsers: TaskHandler = async (trx, task) => {
  const { user_ids, options } = task.payload as { user_ids: string[]; options: ReactivateOptions };
  const rows = await applyReactivationUniquely(trx, user_ids, options);
  return { users: rows.map(userV2) };
};
