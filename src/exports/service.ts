// User data export: the synchronous single-user export, the ExportUsers task and its file (line-delimited JSON, one
// {user, messages, reactions} per line), the signed, expiring download links, and the purge of expired files.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ServiceContext } from '../context.js';
import { inTransaction } from '../db/locks.js';
import type { Db, Tx } from '../db/schema.js';
import { lockExistingUsers, checkUserIds } from '../lifecycle/service.js';
import { toJsonText } from '../lib/json.js';
import { enqueueTask } from '../tasks/store.js';
import { userV2, type UserRow, type UserV2 } from '../users/representation.js';
import { findUsersByIds, inIdOrder } from '../users/store/users.js';
import { deleteExpiredExports, findExportExpiry, insertExportFile, readLiveExport } from './store.js';

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

/** The rows of an export; the v2 user shape is what the file holds (see exportOf). */
export async function exportUser(ctx: ServiceContext, id: string): Promise<UserRow> {
  return inTransaction(ctx.db, async (trx) => {
    await lockExistingUsers(trx, [id]);
    return (await findUsersByIds(trx, [id]))[0]!;
  });
}

/** ExportUsers: 1 to 25 existing users, as a task. */
export async function exportUsers(ctx: ServiceContext, ids: string[]): Promise<string> {
  checkUserIds(ids, 25);
  return inTransaction(ctx.db, async (trx) => {
    await lockExistingUsers(trx, ids);
    return enqueueTask(trx, 'ExportUsers', { user_ids: [...new Set(ids)] }, ctx.tasks);
  });
}

/**
 * The ExportUsers task: writes the users' file. The stored result names the file; the signed link is made when the
 * task is read (GET tasks/{id}), from that request's base URL.
 */
export async function runExportUsersTask(_ctx: ServiceContext, trx: Tx, taskId: string, payload: { user_ids: string[] }): Promise<{ export_id: string }> {
  const rows = inIdOrder(await findUsersByIds(trx, payload.user_ids), payload.user_ids);
  const content = rows.map((row) => `${toJsonText(exportOf(row))}\n`).join('');
  return { export_id: await insertExportFile(trx, taskId, content, EXPORT_TTL_MS / 1000) };
}

function signature(secret: string, fileId: string, expires: number): string {
  return createHmac('sha256', secret).update(`exports/users/${fileId}:${expires}`).digest('hex');
}

/** A download link for an export file, valid until the file expires; undefined when the file is gone. */
export async function signedExportUrl(db: Db, secret: string, baseUrl: string, fileId: string): Promise<string | undefined> {
  const expiresAt = await findExportExpiry(db, fileId);
  if (expiresAt === undefined) return undefined;
  const expires = Number(expiresAt / 1_000_000n);
  return `${baseUrl}/exports/users/${fileId}.ndjson?expires=${expires}&signature=${signature(secret, fileId, expires)}`;
}

export type DownloadCheck = { ok: true; content: string } | { ok: false; reason: 'signature' | 'expired' | 'missing' };

export async function downloadExport(
  db: Db,
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
  const content = await readLiveExport(db, fileId);
  return content !== undefined ? { ok: true, content } : { ok: false, reason: 'missing' };
}

export function purgeExpiredExports(db: Db): Promise<number> {
  return deleteExpiredExports(db);
}
