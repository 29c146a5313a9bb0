// User data export: the synchronous single-user export, the ExportUsers request (its task's runner and file are in
// tasks.ts), the signed, expiring download links, and the purge of expired files.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ServiceContext } from '../context.js';
import { inTransaction } from '../db/locks.js';
import type { Db, UserRow } from '../db/schema.js';
import { lockExistingUsers, checkUserIds } from '../lifecycle/service.js';
import { MAX_USERS_PER_EXPORT } from '../limits.js';
import type { ExportUsersPayload } from '../tasks/payloads.js';
import { enqueueTask } from '../tasks/store.js';
import { findUsersByIds } from '../users/store/users.js';
import { deleteExpiredExports, findExportExpiry, readLiveExport } from './store.js';

/** The rows of an export; the v2 user shape is what the file holds (see exportOf). */
export async function exportUser(ctx: ServiceContext, id: string): Promise<UserRow> {
  return inTransaction(ctx.db, async (trx) => {
    await lockExistingUsers(trx, [id]);
    return (await findUsersByIds(trx, [id]))[0]!;
  });
}

/** ExportUsers: 1 to MAX_USERS_PER_EXPORT existing users, as a task. */
export async function exportUsers(ctx: ServiceContext, ids: string[]): Promise<string> {
  checkUserIds(ids, MAX_USERS_PER_EXPORT);
  return inTransaction(ctx.db, async (trx) => {
    await lockExistingUsers(trx, ids);
    const payload: ExportUsersPayload = { user_ids: [...new Set(ids)] };
    return enqueueTask(trx, 'ExportUsers', payload, ctx.tasks);
  });
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
