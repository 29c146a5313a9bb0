// User blocks: one user hides another. Reflected as `blocked_user_ids` on the blocking user (see users.ts).
import { sql } from 'kysely';
import type { Db, Micros } from '../../db/schema.js';

/** Blocks `blockedUserId` for `userId`; blocking twice keeps the first block (and its date). Returns its date. */
export async function insertBlock(db: Db, userId: string, blockedUserId: string): Promise<Micros> {
  const result = await sql<{ created_at: Micros }>`
    WITH inserted AS (
      INSERT INTO user_blocks (user_id, blocked_user_id) VALUES (${userId}, ${blockedUserId})
      ON CONFLICT (user_id, blocked_user_id) DO NOTHING
      RETURNING created_at
    )
    SELECT created_at FROM inserted
    UNION ALL
    SELECT created_at FROM user_blocks WHERE user_id = ${userId} AND blocked_user_id = ${blockedUserId}
    LIMIT 1`.execute(db);
  return result.rows[0]!.created_at;
}

export async function deleteBlock(db: Db, userId: string, blockedUserId: string): Promise<void> {
  await db.deleteFrom('user_blocks').where('user_id', '=', userId).where('blocked_user_id', '=', blockedUserId).execute();
}

/** The blocks a user made, oldest first. */
export async function listBlocks(db: Db, userId: string): Promise<Array<{ blocked_user_id: string; created_at: Micros }>> {
  return db
    .selectFrom('user_blocks')
    .select(['blocked_user_id', 'created_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('blocked_user_id')
    .execute();
}
