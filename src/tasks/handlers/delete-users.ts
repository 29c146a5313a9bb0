// DeleteUsers: the request already marked the users deleted; this finishes the job per mode. soft keeps the data,
// pruning nullifies name, image and custom data, hard removes the user (so the id can be created afresh). Every
// statement is conditional on the user still being deleted, so a second run, or a run after a restore, is a no-op.
import { sql } from 'kysely';
import type { DeleteOptions } from '../../users/lifecycle.js';
import type { TaskHandler } from '../worker.js';

export const deleteUsers: TaskHandler = async (trx, task) => {
  const { user_ids, options } = task.payload as { user_ids: string[]; options: DeleteOptions };
  const ids = sql.join(user_ids.map((id) => sql`${id}`));
  if (options.user === 'pruning') {
    await sql`
      UPDATE users SET name = NULL, image = NULL, custom = '{}', teams_role = NULL, privacy_settings = NULL,
        language = '', updated_at = now()
      WHERE id IN (${ids}) AND deleted_at IS NOT NULL`.execute(trx);
    await sql`DELETE FROM user_blocks WHERE user_id IN (${ids}) OR blocked_user_id IN (${ids})`.execute(trx);
  } else if (options.user === 'hard') {
    await sql`DELETE FROM users WHERE id IN (${ids}) AND deleted_at IS NOT NULL`.execute(trx);
  }
  return Object.fromEntries(user_ids.map((id) => [id, { status: 'ok' }]));
};
