// What a WebSocket connection does to the stored state: admitting a user (its token, then the user sync of
// `user_details`), its presence row, the periodic re-check of its token, and the user it is shown as (`me`).
import type { UserRow } from '../db/schema.js';
import type { ActivityRecorder } from '../activity/service.js';
import { checkUserToken, refusedTokens, type UserToken } from '../auth/core.js';
import type { ServiceContext } from '../context.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { syncConnectingUser } from '../users/service.js';
import { findUsersByIds } from '../users/store/users.js';
import { deleteConnection, deleteStaleConnections, insertConnection, touchConnections } from './store.js';

/**
 * Admits a connecting user: its token must still be good (deactivated, deleted → 5; revoked → 40), then the user is
 * created or updated from `user_details`.
 */
export async function admitUser(ctx: ServiceContext, token: UserToken, details: Record<string, unknown>): Promise<void> {
  await checkUserToken(ctx, token);
  await syncConnectingUser(ctx, token.userId, details);
}

export function addPresence(ctx: ServiceContext, connectionId: string, userId: string): Promise<void> {
  return insertConnection(ctx.db, connectionId, userId);
}

export function removePresence(ctx: ServiceContext, connectionId: string): Promise<void> {
  return deleteConnection(ctx.db, connectionId);
}

/** The connected user as it now stands (with last_active, online and blocked ids), for `me`. */
export async function connectedUser(ctx: ServiceContext, userId: string): Promise<UserRow> {
  const [row] = await findUsersByIds(ctx.db, [userId]);
  if (!row) throw new StreamError(ErrorCode.Authentication, `user "${userId}" was deleted`);
  return row;
}

export interface LiveConnection {
  id: string;
  token: UserToken;
}

/**
 * The keep-alive pass over live connections: refreshes their presence, records their users' activity (a connection
 * that stays open into a new month counts its user in that month too), and returns why each connection whose token is
 * no longer good must end (keyed by connection id).
 */
export async function refreshConnections(
  ctx: ServiceContext,
  activity: ActivityRecorder,
  connections: readonly LiveConnection[],
): Promise<Map<string, StreamError>> {
  await touchConnections(ctx.db, connections.map((c) => c.id));
  const refusals = await refusedTokens(ctx, connections.map((c) => c.token));
  const ended = new Map<string, StreamError>();
  connections.forEach((c, i) => {
    const refusal = refusals[i];
    if (refusal) ended.set(c.id, refusal);
  });
  const users = new Set(connections.filter((c) => !ended.has(c.id)).map((c) => c.token.userId));
  for (const userId of users) await activity.record(userId);
  return ended;
}

/** Housekeeping: the presence rows left by processes that died. */
export function purgeStaleConnections(ctx: ServiceContext): Promise<number> {
  return deleteStaleConnections(ctx.db);
}
