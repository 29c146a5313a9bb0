// Presence: one user_connections row per open WebSocket of a user, refreshed while it lives. A user is online while a
// row of theirs has been seen recently (see users/store/users.ts); a process that died leaves rows that age out.
import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

export async function insertConnection(db: Db, connectionId: string, userId: string): Promise<void> {
  await sql`INSERT INTO user_connections (id, user_id) VALUES (${connectionId}, ${userId})`.execute(db);
}

export async function deleteConnection(db: Db, connectionId: string): Promise<void> {
  await sql`DELETE FROM user_connections WHERE id = ${connectionId}`.execute(db);
}

export async function touchConnections(db: Db, connectionIds: readonly string[]): Promise<void> {
  if (connectionIds.length === 0) return;
  await sql`
    UPDATE user_connections SET seen_at = now()
    WHERE id IN (${sql.join(connectionIds.map((id) => sql`${id}::uuid`))})`.execute(db);
}

/**
 * Deletes rows no live connection refreshes any more (a process that died leaves its rows behind): the hub of every
 * process refreshes its own every heartbeat, well within the 90 s after which a row no longer counts as online.
 */
export async function deleteStaleConnections(db: Db): Promise<number> {
  const result = await sql`DELETE FROM user_connections WHERE seen_at < now() - interval '90 seconds'`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
