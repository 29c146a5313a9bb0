// Export files, kept in the database so that any instance can serve a download link.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Micros, Tx } from '../db/schema.js';

/** Stores a task's file once: a retried task finds its file already there. Returns the file id. */
export async function insertExportFile(trx: Tx, taskId: string, content: string, ttlSeconds: number): Promise<string> {
  const inserted = await sql<{ id: string }>`
    INSERT INTO exports (id, task_id, content, expires_at)
    VALUES (${randomUUID()}::uuid, ${taskId}::uuid, ${content}, now() + make_interval(secs => ${ttlSeconds}))
    ON CONFLICT (task_id) DO NOTHING
    RETURNING id::text AS id`.execute(trx);
  if (inserted.rows[0]) return inserted.rows[0].id;
  const existing = await sql<{ id: string }>`SELECT id::text AS id FROM exports WHERE task_id = ${taskId}::uuid`.execute(trx);
  return existing.rows[0]!.id;
}

export async function findExportExpiry(db: Db, fileId: string): Promise<Micros | undefined> {
  const file = await db.selectFrom('exports').select('expires_at').where('id', '=', fileId).executeTakeFirst();
  return file?.expires_at;
}

/** The content of a file that has not expired. */
export async function readLiveExport(db: Db, fileId: string): Promise<string | undefined> {
  const file = await sql<{ content: string }>`SELECT content FROM exports WHERE id = ${fileId}::uuid AND expires_at > now()`.execute(db);
  return file.rows[0]?.content;
}

export async function deleteExpiredExports(db: Db): Promise<number> {
  const result = await db.deleteFrom('exports').where('expires_at', '<', sql<bigint>`now()`).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Deletes the export files of export tasks that name any of these users. (Only export tasks have files: the type need
 * not be named, which keeps the task table's type names out of SQL.)
 */
export async function deleteExportsOfUsers(trx: Tx, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await sql`
    DELETE FROM exports WHERE task_id IN (
      SELECT id FROM tasks WHERE payload -> 'user_ids' ?| ARRAY[${sql.join(userIds.map((id) => sql`${id}::text`))}]::text[])`.execute(trx);
}
