// User data export: the synchronous single-user export, the ExportUsers task's file (line-delimited JSON stored in
// the database, so that any instance can serve it), and the signed, expiring download links.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import { toJsonText } from '../http/json.js';
import { userV2, type UserRow, type UserV2 } from './representation.js';
import { findUsersByIds, inIdOrder, type Executor } from './store.js';
import { lockExistingUsers } from './lifecycle.js';

/** How long an export file (and so its link) lives. */
export const EXPORT_TTL_MS = 24 * 60 * 60 * 1000;

export interface UserExport {
  user: UserV2;
  messages: unknown[];
  reactions: unknown[];
}

/** This server holds no messages or reactions; they are exported empty so the shape matches Stream's. */
function exportOf(row: UserRow): UserExport {
  return { user: userV2(row), messages: [], reactions: [] };
}

export async function exportUser(db: Executor, id: string): Promise<UserExport> {
  return db.transaction().execute(async (trx) => {
    await lockExistingUsers(trx, [id]);
    return exportOf((await findUsersByIds(trx, [id]))[0]!);
  });
}

/** Writes the export file of a task (once: a retried task finds its file already there). Returns the file id. */
export async function writeExportFile(trx: Executor, taskId: string, ids: string[]): Promise<string> {
  const rows = inIdOrder(await findUsersByIds(trx, ids), ids);
  const content = rows.map((row) => `${toJsonText(exportOf(row))}\n`).join('');
  const inserted = await sql<{ id: string }>`
    INSERT INTO exports (id, task_id, content, expires_at)
    VALUES (${randomUUID()}::uuid, ${taskId}::uuid, ${content}, now() + make_interval(secs => ${EXPORT_TTL_MS / 1000}))
    ON CONFLICT (task_id) DO NOTHING
    RETURNING id::text AS id`.execute(trx);
  if (inserted.rows[0]) return inserted.rows[0].id;
  const existing = await sql<{ id: string }>`SELECT id::text AS id FROM exports WHERE task_id = ${taskId}::uuid`.execute(trx);
  return existing.rows[0]!.id;
}

function signature(secret: string, fileId: string, expires: number): string {
  return createHmac('sha256', secret).update(`exports/users/${fileId}:${expires}`).digest('hex');
}

/** A download link for an export file, valid until the file expires. */
export async function signedExportUrl(db: Executor, secret: string, baseUrl: string, fileId: string): Promise<string | undefined> {
  const file = await db.selectFrom('exports').select('expires_at').where('id', '=', fileId).executeTakeFirst();
  if (!file) return undefined;
  const expires = Number(file.expires_at / 1_000_000n);
  return `${baseUrl}/exports/users/${fileId}.ndjson?expires=${expires}&signature=${signature(secret, fileId, expires)}`;
}

export type DownloadCheck = { ok: true; content: string } | { ok: false; reason: 'signature' | 'expired' | 'missing' };

export async function downloadExport(
  db: Executor,
  secret: string,
  fileId: string,
  expires: string | undefined,
  given: string | undefined,
  nowMs = Date.now(),
): Promise<DownloadCheck> {
  const expiresAt = Number(expires);
  if (!given || !/^[0-9a-f]{64}$/.test(given) || !Number.isInteger(expiresAt)) return { ok: false, reason: 'signature' };
  const expected = Buffer.from(signature(secret, fileId, expiresAt), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) return { ok: false, reason: 'signature' };
  if (expiresAt * 1000 < nowMs) return { ok: false, reason: 'expired' };
  if (!/^[0-9a-f-]{36}$/.test(fileId)) return { ok: false, reason: 'missing' };
  const file = await sql<{ content: string }>`
    SELECT content FROM exports WHERE id = ${fileId}::uuid AND expires_at > now()`.execute(db);
  return file.rows[0] ? { ok: true, content: file.rows[0].content } : { ok: false, reason: 'missing' };
}

export async function purgeExpiredExports(db: Executor): Promise<number> {
  const result = await db.deleteFrom('exports').where('expires_at', '<', sql<bigint>`now()`).executeTakeFirst();
  return Number(result.numDeletedRows);
}
