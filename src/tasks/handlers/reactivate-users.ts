// ReactivateUsers: clears deactivated_at (a user already active is left as it is). Result mirrors DeactivateUsers.
// With unique usernames on, a user whose name was taken while it was deactivated fails the whole task (nothing is
// reactivated), as a duplicate name fails a whole upsert batch.
import { getAppSettings } from '../../app-settings/service.js';
import { applyReactivation, type ReactivateOptions } from '../../users/lifecycle.js';
import { userV2 } from '../../users/representation.js';
import { findUsersByIds } from '../../users/store.js';
import { checkUniqueUsernames, lockUsernames } from '../../users/usernames.js';
import type { TaskHandler } from '../worker.js';

export const reactivateUsers: TaskHandler = async (trx, task) => {
  const { user_ids, options } = task.payload as { user_ids: string[]; options: ReactivateOptions };
  const { enforce_unique_usernames: mode } = await getAppSettings(trx);
  if (mode !== 'no') {
    const stored = await findUsersByIds(trx, user_ids);
    await lockUsernames(trx, stored.map((row) => options.name ?? row.name));
  }
  const rows = await applyReactivation(trx, user_ids, options);
  await checkUniqueUsernames(trx, mode, rows);
  return { users: rows.map(userV2) };
};
