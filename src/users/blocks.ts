// User blocks: one user hides another. Reflected as `blocked_user_ids` on the blocking user.
import { sql } from 'kysely';
import type { Micros } from '../db/schema.js';
import { inputError, notFound } from '../http/errors.js';
import type { UserRow } from './representation.js';
import { findUsersByIds, type Executor } from './store.js';
import { checkUserId } from './validation.js';

async function requireLiveUsers(executor: Executor, ids: string[]): Promise<Map<string, UserRow>> {
  const rows = await findUsersByIds(executor, ids);
  const byId = new Map(rows.filter((row) => row.deleted_at === null).map((row) => [row.id, row]));
  for (const id of ids) {
    if (!byId.has(id)) throw notFound(`user "${id}" does not exist`);
  }
  return byId;
}

export interface Block {
  blocked_by_user_id: string;
  blocked_user_id: string;
  created_at: Micros;
}

export async function blockUser(executor: Executor, userId: string, blockedUserId: string): Promise<Block> {
  checkUserId(userId);
  checkUserId(blockedUserId, 'blocked_user_id');
  if (userId === blockedUserId) throw inputError('a user cannot block themselves');
  await requireLiveUsers(executor, [userId, blockedUserId]);
  // Blocking twice keeps the first block (and its date).
  const result = await sql<{ created_at: Micros }>`
    WITH inserted AS (
      INSERT INTO user_blocks (user_id, blocked_user_id) VALUES (${userId}, ${blockedUserId})
      ON CONFLICT (user_id, blocked_user_id) DO NOTHING
      RETURNING created_at
    )
    SELECT created_at FROM inserted
    UNION ALL
    SELECT created_at FROM user_blocks WHERE user_id = ${userId} AND blocked_user_id = ${blockedUserId}
    LIMIT 1`.execute(executor);
  return { blocked_by_user_id: userId, blocked_user_id: blockedUserId, created_at: result.rows[0]!.created_at };
}

export async function unblockUser(executor: Executor, userId: string, blockedUserId: string): Promise<void> {
  checkUserId(userId);
  checkUserId(blockedUserId, 'blocked_user_id');
  await requireLiveUsers(executor, [userId, blockedUserId]);
  await executor.deleteFrom('user_blocks').where('user_id', '=', userId).where('blocked_user_id', '=', blockedUserId).execute();
}

export interface BlockWithUsers {
  user_id: string;
  blocked_user_id: string;
  created_at: Micros;
  user: UserRow;
  blocked_user: UserRow;
}

export async function getBlockedUsers(executor: Executor, userId: string): Promise<BlockWithUsers[]> {
  checkUserId(userId);
  const owner = (await requireLiveUsers(executor, [userId])).get(userId)!;
  const blocks = await executor
    .selectFrom('user_blocks')
    .select(['blocked_user_id', 'created_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('blocked_user_id')
    .execute();
  const blocked = new Map((await findUsersByIds(executor, blocks.map((b) => b.blocked_user_id))).map((row) => [row.id, row]));
  return blocks.flatMap((block) => {
    const blockedUser = blocked.get(block.blocked_user_id);
    if (!blockedUser || blockedUser.deleted_at !== null) return [];
    return [{ user_id: userId, blocked_user_id: block.blocked_user_id, created_at: block.created_at, user: owner, blocked_user: blockedUser }];
  });
}
