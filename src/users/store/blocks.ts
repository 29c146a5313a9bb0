// User blocks: one user hides another. Reflected as `blocked_user_ids` on the blocking user (see users.ts).
import { sql } from 'kysely';
import type { Db, Micros } from '../../db/schema.js';

/**
 * Blocks `blockedUserId` for `userId`; blocking twice keeps the first block (and its date). Returns its date. The
 * no-op update makes the statement return the row in every case, also when a concurrent identical request inserted
 * it first (DO NOTHING would return nothing, and a second SELECT would not see the other's row in its snapshot).
 */
export async function insertBlock(db: Db, userId: string, blockedUserId: string): Promise<Micros> {
  const result = await sql<{ created_at: Micros }>`
    INSERT INTO user_blocks (user_id, blocked_user_id) VALUES (${userId}, ${blockedUserId})
    ON CONFLICT (user_id, blocked_user_id) DO UPDATE SET created_at = user_blocks.created_at
    RETURNING created_at`.execute(db);
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

/** The users who block `userId`, oldest block first. */
export async function listBlockers(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('user_blocks')
    .select('user_id')
    .where('blocked_user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('user_id')
    .execute();
  return rows.map((row) => row.user_id);
}
