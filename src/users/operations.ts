// The users operations as a caller performs them: one transaction each, with the client-side rules of Stream
// (what a user token may do) and the app's settings (unique usernames, guests, multi-tenancy) applied. Both path
// families call these — the v2 routes and the v1 routes `stream-chat` uses — and differ only in representation.
import { sql, type Kysely } from 'kysely';
import type { AppSettingsCache } from '../app-settings/service.js';
import { signUserToken } from '../auth/jwt.js';
import type { AppCredentials, Caller } from '../auth/plugin.js';
import type { Database } from '../db/schema.js';
import { inputError, notAllowed } from '../http/errors.js';
import { blockUser, getBlockedUsers, unblockUser, type Block, type BlockWithUsers } from './blocks.js';
import { createGuest } from './guests.js';
import { updateUserPartial } from './partial-update.js';
import { queryUsers, type QueryScope } from './query.js';
import type { UserRow } from './representation.js';
import type { QueryUsersPayload, UpdateUserPartialRequest, UserRequest } from './schemas.js';
import { findUsersByIds } from './store.js';
import { upsertUsers } from './upsert.js';
import { checkUniqueUsernames, lockUsernames } from './usernames.js';
import { checkBatchSize } from './validation.js';

export interface OperationContext {
  db: Kysely<Database>;
  caller: Caller;
  credentials: AppCredentials;
  /** Read before a transaction opens, never inside one. */
  settings: AppSettingsCache;
}

/** Client-side callers may act on their own user only. */
function requireSelf(caller: Caller, ids: Iterable<string>, action: string) {
  if (caller.kind === 'server') return;
  if (caller.kind === 'anonymous') throw notAllowed(`anonymous users are not allowed to ${action}`);
  for (const id of ids) {
    if (id !== caller.userId) throw notAllowed(`user "${caller.userId}" is not allowed to ${action} user "${id}"`);
  }
}

export async function upsertUsersAs(ctx: OperationContext, users: UserRequest[]): Promise<UserRow[]> {
  requireSelf(ctx.caller, users.map((user) => user.id), 'update');
  const settings = await ctx.settings.get();
  // The upsert statement is atomic on its own: a server-side upsert without name checks needs no transaction
  // (and saves the round trips of one on the busiest write path).
  if (ctx.caller.kind === 'server' && settings.enforce_unique_usernames === 'no') return upsertUsers(ctx.db, users);
  return ctx.db.transaction().execute(async (trx) => {
    if (ctx.caller.kind === 'user') {
      // A user may not give itself another role or other teams.
      const [stored] = await findUsersByIds(trx, users.map((user) => user.id));
      for (const user of users) {
        if (user.role !== undefined && user.role !== (stored?.role ?? 'user')) throw notAllowed('user role can only be updated server-side');
        const teams = user.teams ?? [];
        if (teams.length > 0 && [...teams].sort().join('\u0000') !== [...(stored?.teams ?? [])].sort().join('\u0000')) {
          throw notAllowed('user teams can only be updated server-side');
        }
        if (user.teams_role !== undefined && JSON.stringify(user.teams_role) !== JSON.stringify(stored?.teams_role ?? null)) {
          throw notAllowed('user teams_role can only be updated server-side');
        }
      }
    }
    if (settings.enforce_unique_usernames !== 'no') await lockUsernames(trx, users.map((user) => user.name));
    const rows = await upsertUsers(trx, users);
    await checkUniqueUsernames(trx, settings.enforce_unique_usernames, rows);
    return rows;
  });
}

export async function updateUsersPartialAs(ctx: OperationContext, changes: UpdateUserPartialRequest[]): Promise<UserRow[]> {
  checkBatchSize(changes.length);
  requireSelf(ctx.caller, changes.map((change) => change.id), 'update');
  const settings = await ctx.settings.get();
  return ctx.db.transaction().execute(async (trx) => {
    if (settings.enforce_unique_usernames !== 'no') {
      await lockUsernames(trx, changes.map((change) => change.set?.name as string | undefined));
    }
    const rows: UserRow[] = [];
    for (const change of changes) rows.push(await updateUserPartial(trx, change, { userOnly: ctx.caller.kind !== 'server' }));
    await checkUniqueUsernames(trx, settings.enforce_unique_usernames, rows);
    return rows;
  });
}

/** Client-side queries of a multi-tenant app see only users who share a team with the caller. */
export async function queryUsersAs(ctx: OperationContext, payload: QueryUsersPayload): Promise<UserRow[]> {
  const scope: QueryScope = {};
  if (ctx.caller.kind === 'user') {
    const settings = await ctx.settings.get();
    if (settings.multi_tenant_enabled) {
      const [self] = await findUsersByIds(ctx.db, [ctx.caller.userId]);
      const teams = self?.teams ?? [];
      scope.where = teams.length > 0
        ? sql<boolean>`(users.teams && ARRAY[${sql.join(teams.map((t) => sql`${t}::text`))}] OR users.id = ${ctx.caller.userId})`
        : sql<boolean>`users.id = ${ctx.caller.userId}`;
    }
  } else if (ctx.caller.kind === 'anonymous') {
    throw notAllowed('anonymous users are not allowed to query users');
  }
  return queryUsers(ctx.db, payload, scope);
}

export async function createGuestAs(ctx: OperationContext, user: UserRequest): Promise<{ row: UserRow; accessToken: string }> {
  const settings = await ctx.settings.get();
  if (settings.guest_user_creation_disabled) throw notAllowed('guest user creation is disabled for this app');
  if (settings.multi_tenant_enabled) throw notAllowed('guest users are not available for multi-tenant apps');
  const row = await ctx.db.transaction().execute(async (trx) => {
    if (settings.enforce_unique_usernames !== 'no') await lockUsernames(trx, [user.name]);
    const created = await createGuest(trx, user);
    await checkUniqueUsernames(trx, settings.enforce_unique_usernames, [created]);
    return created;
  });
  return { row, accessToken: await signUserToken(row.id, ctx.credentials.key) };
}

/** The acting user of a block request: the caller client-side, `user_id` (or `user.id`) server-side. */
function actingUserId(caller: Caller, requested: string | undefined): string {
  if (caller.kind === 'user') {
    if (requested !== undefined && requested !== caller.userId) throw notAllowed(`user "${caller.userId}" can only act as themselves`);
    return caller.userId;
  }
  if (caller.kind === 'anonymous') throw notAllowed('anonymous users are not allowed to block users');
  if (!requested) throw inputError('either user_id or user is required for server-side requests');
  return requested;
}

export async function blockUserAs(ctx: OperationContext, blockedUserId: string, userId: string | undefined): Promise<Block> {
  const acting = actingUserId(ctx.caller, userId);
  return ctx.db.transaction().execute((trx) => blockUser(trx, acting, blockedUserId));
}

export async function unblockUserAs(ctx: OperationContext, blockedUserId: string, userId: string | undefined): Promise<void> {
  const acting = actingUserId(ctx.caller, userId);
  await ctx.db.transaction().execute((trx) => unblockUser(trx, acting, blockedUserId));
}

export async function getBlockedUsersAs(ctx: OperationContext, userId: string | undefined): Promise<BlockWithUsers[]> {
  return getBlockedUsers(ctx.db, actingUserId(ctx.caller, userId));
}
