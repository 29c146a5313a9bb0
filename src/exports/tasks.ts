// The ExportUsers task's side: its runner writes the users' file (line-delimited JSON, one {user, messages, reactions}
// per line) through the worker's transaction.
import type { ServiceContext } from '../context.js';
import type { Tx, UserRow } from '../db/schema.js';
import { toJsonText } from '../lib/json.js';
import type { ExportUsersPayload } from '../tasks/payloads.js';
import { userV2, type UserV2 } from '../users/representation.js';
import { findUsersByIds, inIdOrder } from '../users/store/users.js';
import { insertExportFile } from './store.js';

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

/**
 * The ExportUsers task: writes the users' file. The stored result names the file; the signed link is made when the
 * task is read (GET tasks/{id}), from that request's base URL.
 */
export async function runExportUsersTask(_ctx: ServiceContext, trx: Tx, taskId: string, payload: ExportUsersPayload): Promise<{ export_id: string }> {
  const rows = inIdOrder(await findUsersByIds(trx, payload.user_ids), payload.user_ids);
  const content = rows.map((row) => `${toJsonText(exportOf(row))}\n`).join('');
  return { export_id: await insertExportFile(trx, taskId, content, EXPORT_TTL_MS / 1000) };
}
