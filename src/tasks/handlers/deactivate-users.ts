// DeactivateUsers: sets deactivated_at on each user (a user already deactivated keeps its first date, so a second
// run changes nothing). Result: {users: [user, ...]} as Stream reports it.
import { applyDeactivation, type DeactivateOptions } from '../../users/lifecycle.js';
import { userV2 } from '../../users/representation.js';
import type { TaskHandler } from '../worker.js';

export const deactivateUsers: TaskHandler = async (trx, task) => {
  const { user_ids, options } = task.payload as { user_ids: string[]; options: DeactivateOptions };
  const rows = await applyDeactivation(trx, user_ids, options);
  return { users: rows.map(userV2) };
};
