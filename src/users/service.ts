// The users operations as a caller performs them: upsert, partial update, query, guests, blocks, and the user sync
// of a WebSocket connect. Each owns its transaction (a rejected request writes nothing) and applies Stream's
// client-side rules (what a user token may do) and the app's settings (unique usernames, guests, multi-tenancy).
// SQL lives in store/; the wire shapes in representation.ts.
import { randomBytes } from 'node:crypto';
import type { UniqueUsernames } from '../app-settings/service.js';
import type { Caller } from '../auth/core.js';
import { signUserToken } from '../auth/jwt.js';
import type { ServiceContext } from '../context.js';
import { inLockOrder, inTransaction, withConflictRetries } from '../db/locks.js';
import type { RawBuilder } from 'kysely';
import type { Db, Micros, Tx, UserRow } from '../db/schema.js';
import { ErrorCode, StreamError, inputError, notAllowed, notFound } from '../http/errors.js';
import { isPlainObject, sameJson } from '../lib/json.js';
import { checkDepth, type InputLimits } from '../limits.js';
import { userUpdated } from '../webhooks/events.js';
import { changesFor, splitDetails } from './connect-details.js';
import type { QueryUsersPayload, UpdateUserPartialRequest, UserRequest } from './schemas.js';
import { deleteBlock, insertBlock, listBlockers, listBlocks } from './store/blocks.js';
import { compileChanges, replaceCustom } from './store/changes.js';
import { isRareNameAutocomplete, plannedQueryCost, prepareQueryUsers, runQueryUsers, selectQueriedUsers, type QueryScope } from './store/query.js';
import { findNameConflict, lockUsernames } from './store/usernames.js';
import {
  findUsersByIds,
  inIdOrder,
  insertUserIfAbsent,
  lockUserId,
  lockUsers,
  updateUserRow,
  upsertUserRows,
  UpsertRefused,
  type UpsertInput,
} from './store/users.js';
import { checkBatchSize, checkStoredShape, checkStoredSize, checkUserId, checkUserSize } from './validation.js';

/** Client-side callers may act on their own user only. */
function requireSelf(caller: Caller, ids: Iterable<string>, action: string) {
  if (caller.kind === 'server') return;
  if (caller.kind === 'anonymous') throw notAllowed(`anonymous users are not allowed to ${action}`);
  for (const id of ids) {
    if (id !== caller.userId) throw notAllowed(`user "${caller.userId}" is not allowed to ${action} user "${id}"`);
  }
}

// --- upsert ------------------------------------------------------------------------------------------------------------

/** Validates one user and returns what to store, with its JSON (measured for the size rule, sent as is). */
export function toUpsertInput(user: UserRequest, limits: InputLimits): { input: UpsertInput; json: string } {
  checkUserId(user.id);
  const custom = user.custom ?? {};
  checkDepth(custom, limits.customDepth, `custom data of user "${user.id}"`);
  const input: UpsertInput = {
    id: user.id,
    name: user.name ?? null,
    image: user.image ?? null,
    role: user.role ?? null,
    teams: user.teams && user.teams.length > 0 ? user.teams : null,
    teams_role: user.teams_role ?? null,
    language: user.language ?? null,
    invisible: user.invisible ?? null,
    privacy_settings: user.privacy_settings ?? null,
    custom,
  };
  return { input, json: checkUserSize(input) };
}

/**
 * Writes an upsert batch in one statement (see upsertUserRows), atomic on its own: the caller may run it with or
 * without a transaction. Replace semantics: name, image, custom, language, invisible, privacy_settings and teams_role
 * not sent are cleared; role and teams keep their stored values when omitted.
 */
async function writeUpserts(db: Db, users: UserRequest[], limits: InputLimits): Promise<UserRow[]> {
  checkBatchSize(users.length);
  const byId = new Map<string, { input: UpsertInput; json: string }>();
  for (const user of users) byId.set(user.id, toUpsertInput(user, limits)); // last one wins, as in the SDK's map
  const inputs = [...byId.values()];
  let rows: UserRow[];
  try {
    rows = await upsertUserRows(db, inputs.map((i) => i.input), `[${inputs.map((i) => i.json).join(',')}]`);
  } catch (error) {
    if (!(error instanceof UpsertRefused)) throw error;
    // Nothing was written: say why.
    if (error.state === 'deleted') throw inputError(`user "${error.userId}" was deleted, it can't be updated`);
    throw inputError(`user "${error.userId}" was deactivated, reactivate it before updating`);
  }
  const ids = inputs.map(({ input }) => input.id);
  return inIdOrder(rows, ids);
}

export async function upsertUsers(ctx: ServiceContext, caller: Caller, users: UserRequest[]): Promise<UserRow[]> {
  requireSelf(caller, users.map((user) => user.id), 'update');
  const settings = await ctx.settings.get();
  // The upsert statement is atomic on its own: a server-side upsert without name checks or webhook events needs no
  // transaction (and saves the round trips of one on the busiest write path).
  if (caller.kind === 'server' && settings.enforce_unique_usernames === 'no' && !(await ctx.events.wanted(ctx.db, 'user.updated'))) {
    return withConflictRetries(() => writeUpserts(ctx.db, users, ctx.limits));
  }
  return inTransaction(ctx.db, async (trx) => {
    // Locked before they are read: what they were is what this write changes (for the checks and the events).
    const ids = users.map((user) => user.id);
    await lockUsers(trx, ids);
    const before = new Map((await findUsersByIds(trx, ids)).map((row) => [row.id, row]));
    const written = caller.kind === 'user' ? users.map((user) => withServerOwnedFields(user, before.get(user.id))) : users;
    if (settings.enforce_unique_usernames !== 'no') await lockUsernames(trx, written.map((user) => user.name));
    const rows = await writeUpserts(trx, written, ctx.limits);
    await checkUniqueUsernames(trx, settings.enforce_unique_usernames, rows.filter((row) => nameOrTeamsChanged(before.get(row.id), row)));
    await ctx.events.record(trx, rows.filter((row) => stateChanged(before.get(row.id), row)).map(userUpdated));
    return rows;
  });
}

/** The fields of a user a write can change (not updated_at): a write that changes none of them sends no event. */
const WRITTEN_FIELDS = ['name', 'image', 'role', 'language', 'teams', 'teams_role', 'invisible', 'privacy_settings', 'custom'] as const;

/** Whether a write changed what Stream reports with user.updated: a written field, deletion, or the token cut-off. */
function stateChanged(before: UserRow | undefined, after: UserRow): boolean {
  return (
    !before ||
    before.deleted_at !== after.deleted_at ||
    before.revoke_tokens_issued_before !== after.revoke_tokens_issued_before ||
    WRITTEN_FIELDS.some((field) => !sameJson(before[field], after[field]))
  );
}

/**
 * A user's upsert of itself may not change what only the server may: its role, teams and teams_role. Sent, each must
 * equal what is stored (teams in any order, teams_role as a JSON value); not sent, each keeps what is stored (an
 * upsert would otherwise clear teams_role, dropping a restrictive per-team role).
 */
function withServerOwnedFields(user: UserRequest, stored: UserRow | undefined): UserRequest {
  if (user.role !== undefined && user.role !== (stored?.role ?? 'user')) throw notAllowed('user role can only be updated server-side');
  const teams = user.teams ?? [];
  if (teams.length > 0 && [...teams].sort().join('\u0000') !== [...(stored?.teams ?? [])].sort().join('\u0000')) {
    throw notAllowed('user teams can only be updated server-side');
  }
  if (user.teams_role !== undefined && !sameJson(user.teams_role, stored?.teams_role ?? null)) {
    throw notAllowed('user teams_role can only be updated server-side');
  }
  return stored?.teams_role ? { ...user, teams_role: stored.teams_role } : user;
}

/** Whether a write gave a user a name or teams it did not have: only such writes are held to unique usernames. */
function nameOrTeamsChanged(before: UserRow | undefined, after: UserRow): boolean {
  if (!before || before.deleted_at !== null || before.deactivated_at !== null) return true;
  return before.name !== after.name || !sameJson([...before.teams].sort(), [...after.teams].sort());
}

// --- partial update ----------------------------------------------------------------------------------------------------

/** A user's partial update, checked and compiled to SET items before any SQL runs. */
interface CompiledChange {
  id: string;
  assignments: RawBuilder<unknown>[];
}

function compileChange(change: UpdateUserPartialRequest, userOnly: boolean, limits: InputLimits): CompiledChange {
  checkUserId(change.id);
  return { id: change.id, assignments: compileChanges(change, { userOnly, limits }) };
}

/**
 * One user's partial update: one UPDATE whose expressions read the row's current values, then the checks on what it
 * left (shape and size). Only correct inside a transaction, which rolls the write back when a check fails.
 */
async function applyChange(trx: Tx, change: CompiledChange): Promise<UserRow> {
  const row = await updateUserRow(trx, change.id, change.assignments);
  if (!row) {
    const [existing] = await findUsersByIds(trx, [change.id]);
    if (!existing) throw notFound(`user "${change.id}" does not exist`);
    if (existing.deleted_at !== null) throw inputError(`user "${change.id}" was deleted, it can't be updated`);
    throw inputError(`user "${change.id}" was deactivated, reactivate it before updating`);
  }
  checkStoredShape(row);
  checkStoredSize(row);
  return row;
}

export async function updateUsersPartial(ctx: ServiceContext, caller: Caller, changes: UpdateUserPartialRequest[]): Promise<UserRow[]> {
  checkBatchSize(changes.length);
  requireSelf(caller, changes.map((change) => change.id), 'update');
  const compiled = changes.map((change) => compileChange(change, caller.kind !== 'server', ctx.limits));
  // Only a change of a name, or (per team) of teams, can make two users share a name.
  const touchesName = (change: UpdateUserPartialRequest) =>
    ['name', 'teams'].some((key) => (change.set && Object.hasOwn(change.set, key)) || change.unset?.includes(key));
  const named = changes.filter(touchesName).map((change) => ({ id: change.id, name: change.set?.name as string | undefined }));
  return writeChanges(ctx, compiled, named);
}

/**
 * Applies compiled changes in one transaction, in order, with the rules every partial update is held to: unique
 * usernames for the users in `named` (each with the name it is given, undefined: the one it has), and user.updated
 * events for the changes that changed something.
 */
async function writeChanges(
  ctx: ServiceContext,
  compiled: CompiledChange[],
  named: Array<{ id: string; name: string | undefined }>,
  options: { dryRun?: boolean } = {},
): Promise<UserRow[]> {
  const settings = await ctx.settings.get();
  const mode = settings.enforce_unique_usernames;
  const checked = new Set(named.map((change) => change.id));
  const written = inTransaction(ctx.db, async (trx) => {
    // The lock order (src/db/locks.ts): the users' rows, in id order, whatever order the request lists them in;
    // then their names. The changes are applied in the request's order after that, on rows already locked.
    // (With nothing to read or lock but the rows, the UPDATEs themselves lock them, sent in id order: one round trip
    // less on the busiest path.)
    const ids = compiled.map((change) => change.id);
    const wanted = await ctx.events.wanted(trx, 'user.updated');
    const needsRows = wanted || (mode !== 'no' && checked.size > 0);
    if (needsRows) await lockUsers(trx, ids);
    const stored = needsRows ? new Map((await findUsersByIds(trx, ids)).map((row) => [row.id, row])) : undefined;
    if (mode !== 'no' && checked.size > 0) {
      // The name each checked user will have: the one sent, else (a change of teams) the one it has.
      await lockUsernames(trx, named.map((change) => change.name ?? stored!.get(change.id)?.name));
    }
    // With webhooks taking user.updated, each user's state before the request tells which changes changed something.
    const current = wanted ? stored : undefined;
    // Applied in id order (a stable sort: the changes of one user keep the request's order; changes of different
    // users do not depend on each other), answered in the request's order.
    const rank = new Map(inLockOrder(ids).map((id, index) => [id, index]));
    const order = compiled.map((_, index) => index).sort((a, b) => rank.get(compiled[a]!.id)! - rank.get(compiled[b]!.id)!);
    const rows: UserRow[] = new Array(compiled.length);
    const changed: UserRow[] = [];
    for (const index of order) {
      const row = await applyChange(trx, compiled[index]!);
      rows[index] = row;
      if (current && stateChanged(current.get(row.id), row)) changed.push(row);
      current?.set(row.id, row);
    }
    await checkUniqueUsernames(trx, mode, rows.filter((row) => checked.has(row.id)));
    await ctx.events.record(trx, changed.map(userUpdated));
    // A dry run has passed every check: it is rolled back, and answers what it would have written.
    if (options.dryRun) throw new DryRun(rows);
    return rows;
  });
  return options.dryRun ? written.catch((error: unknown) => {
    if (error instanceof DryRun) return error.rows;
    throw error;
  }) : written;
}

/** Ends a dry run's transaction (rolling it back) with the rows it would have written. */
class DryRun extends Error {
  constructor(readonly rows: UserRow[]) {
    super('dry run');
  }
}

/** What the operator's dashboard edits of a user: its name (null: none), role, and custom data as a whole. */
export interface OperatorEdit {
  name: string | null;
  role: string;
  custom: Record<string, unknown>;
}

/**
 * The dashboard's edit of one user, server-side: a partial update of name and role, with the custom data replaced as
 * a whole (keys left out are removed), held to the rules of a partial update (deactivated and deleted users, depth,
 * size, unique usernames) and sending user.updated when it changes something. A dry run checks all of it, writes
 * nothing, and answers the user as the edit would leave it (the dashboard's review step).
 */
export async function editUser(ctx: ServiceContext, id: string, edit: OperatorEdit, options: { dryRun?: boolean } = {}): Promise<UserRow> {
  checkUserId(id);
  if (!isPlainObject(edit.custom)) throw inputError('field "custom" must be an object');
  checkDepth(edit.custom, ctx.limits.customDepth, `custom data of user "${id}"`);
  const change = { id, set: { name: edit.name, role: edit.role } };
  const compiled: CompiledChange = {
    id,
    assignments: [...compileChanges(change, { userOnly: false, limits: ctx.limits }), replaceCustom(edit.custom)],
  };
  const [row] = await writeChanges(ctx, [compiled], [{ id, name: edit.name ?? undefined }], options);
  return row!;
}

/** A user as the operator sees it: deleted ones too, with who blocks it. Undefined when no row holds the id. */
export async function findUserAsOperator(ctx: ServiceContext, id: string): Promise<{ user: UserRow; blockedBy: string[] } | undefined> {
  checkUserId(id);
  const [user] = await findUsersByIds(ctx.db, [id]);
  if (!user) return undefined;
  return { user, blockedBy: await listBlockers(ctx.db, id) };
}

/** The operator's query: the filter language and paging as queryUsers has them, deactivated users always and deleted ones on request. */
export async function queryUsersAsOperator(ctx: ServiceContext, payload: QueryUsersPayload, options: { includeDeleted: boolean }): Promise<UserRow[]> {
  return selectQueriedUsers(ctx.db, { ...payload, include_deactivated_users: true }, { includeDeleted: options.includeDeleted }, ctx.limits);
}

// --- query -------------------------------------------------------------------------------------------------------------

/** The scope of a caller's queries: client-side queries of a multi-tenant app see only users sharing a team. */
async function queryScopeOf(ctx: ServiceContext, caller: Caller): Promise<QueryScope> {
  if (caller.kind === 'anonymous') throw notAllowed('anonymous users are not allowed to query users');
  if (caller.kind !== 'user' || !(await ctx.settings.get()).multi_tenant_enabled) return {};
  const [self] = await findUsersByIds(ctx.db, [caller.userId]);
  return { teamsOf: { userId: caller.userId, teams: self?.teams ?? [] } };
}

/**
 * queryUsers. A user token's query is planned first and refused when its planned cost is over the client query cap
 * (LIMIT_CLIENT_QUERY_COST): Stream's language lets clients filter and sort on custom fields, which no index serves,
 * and on the embedded database a statement cannot be interrupted once it runs. Server-side callers keep the whole
 * language (on PostgreSQL, statement_timeout bounds them).
 */
export async function queryUsers(ctx: ServiceContext, caller: Caller, payload: QueryUsersPayload): Promise<UserRow[]> {
  const statement = await prepareQueryUsers(ctx.db, payload, await queryScopeOf(ctx, caller), ctx.limits);
  // A name $autocomplete of a rare prefix reads only its few matches, which the planner cannot tell.
  if (caller.kind !== 'server' && !(await isRareNameAutocomplete(ctx.db, payload, ctx.limits))) {
    const cost = await plannedQueryCost(ctx.db, statement);
    if (cost > ctx.limits.clientQueryCost) {
      throw inputError(
        `the query would read too much of the users table (planned cost ${Math.round(cost)}, over the client query cap of ${ctx.limits.clientQueryCost}): ` +
          'add a filter on an indexed field (id, name, a custom field with $eq, teams, created_at), or run it server-side',
      );
    }
  }
  return runQueryUsers(ctx.db, statement);
}

// --- guests ------------------------------------------------------------------------------------------------------------

const GUEST_SUFFIX_BYTES = 6;

/** A guest's id: the requested id plus a random suffix, so a guest can never obtain a token for an existing user. */
function guestId(requested: string): string {
  const suffix = randomBytes(GUEST_SUFFIX_BYTES).toString('hex');
  return `${requested.slice(0, 255 - suffix.length - 1)}-${suffix}`;
}

/**
 * What a guest may not be given, as a user may not give itself: a role other than `guest`, teams or per-team roles
 * (`teams: []` and null, as in an upsert, are not sent).
 */
function checkGuestFields(user: UserRequest) {
  if (user.role !== undefined && user.role !== 'guest') throw notAllowed('a guest user\'s role is guest: role can only be updated server-side');
  if (user.teams && user.teams.length > 0) throw notAllowed('user teams can only be updated server-side');
  if (user.teams_role !== undefined && user.teams_role !== null) throw notAllowed('user teams_role can only be updated server-side');
}

export async function createGuest(ctx: ServiceContext, _caller: Caller, user: UserRequest): Promise<{ row: UserRow; accessToken: string }> {
  const settings = await ctx.settings.get();
  if (settings.guest_user_creation_disabled) throw notAllowed('guest user creation is disabled for this app');
  if (settings.multi_tenant_enabled) throw notAllowed('guest users are not available for multi-tenant apps');
  checkGuestFields(user);
  const { input } = toUpsertInput({ ...user, role: 'guest', teams: null, teams_role: undefined }, ctx.limits);
  const row = await inTransaction(ctx.db, async (trx) => {
    if (settings.enforce_unique_usernames !== 'no') await lockUsernames(trx, [user.name]);
    let created: UserRow | undefined;
    while (!created) {
      // 48 random bits colliding with an existing id: draw again.
      created = await insertUserIfAbsent(trx, {
        id: guestId(input.id),
        name: input.name,
        image: input.image,
        role: 'guest',
        language: input.language ?? '',
        teams_role: null,
        invisible: input.invisible ?? false,
        privacy_settings: input.privacy_settings,
        custom: input.custom,
      });
    }
    await checkUniqueUsernames(trx, settings.enforce_unique_usernames, [created]);
    await ctx.events.record(trx, [userUpdated(created)]);
    return created;
  });
  // With iat, so that a revocation cut-off set before the guest existed does not refuse its token.
  return { row, accessToken: await signUserToken(row.id, ctx.credentials().key, { iat: Math.floor(Date.now() / 1000) }) };
}

// --- blocks ------------------------------------------------------------------------------------------------------------

export interface Block {
  blocked_by_user_id: string;
  blocked_user_id: string;
  created_at: Micros;
}

export interface BlockWithUsers {
  user_id: string;
  blocked_user_id: string;
  created_at: Micros;
  user: UserRow;
  blocked_user: UserRow;
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

/**
 * Who a caller may see as another user: everyone server-side; client-side in a multi-tenant app, only users sharing a
 * team with the caller (as queryUsers scopes them). Read before any transaction opens.
 */
async function visibleTo(ctx: ServiceContext, caller: Caller): Promise<(self: UserRow, other: UserRow) => boolean> {
  if (caller.kind !== 'user' || !(await ctx.settings.get()).multi_tenant_enabled) return () => true;
  return (self, other) => other.id === self.id || other.teams.some((team) => self.teams.includes(team));
}

/**
 * The acting user and the other users of a block request, live and visible to the caller. A user out of the caller's
 * scope is answered as an unknown one: a client must not learn whether an id exists in another team.
 */
async function requireLiveUsers(db: Db, acting: string, others: string[], visible: (self: UserRow, other: UserRow) => boolean) {
  const ids = [acting, ...others];
  const byId = new Map((await findUsersByIds(db, ids)).filter((row) => row.deleted_at === null).map((row) => [row.id, row]));
  const self = byId.get(acting);
  for (const id of ids) {
    const row = byId.get(id);
    if (!row || !self || !visible(self, row)) throw notFound(`user "${id}" does not exist`);
  }
  return self!;
}

function checkBlockIds(userId: string, blockedUserId: string) {
  checkUserId(userId);
  checkUserId(blockedUserId, 'blocked_user_id');
}

export async function blockUser(ctx: ServiceContext, caller: Caller, blockedUserId: string, userId: string | undefined): Promise<Block> {
  const acting = actingUserId(caller, userId);
  checkBlockIds(acting, blockedUserId);
  if (acting === blockedUserId) throw inputError('a user cannot block themselves');
  const visible = await visibleTo(ctx, caller);
  return inTransaction(ctx.db, async (trx) => {
    await requireLiveUsers(trx, acting, [blockedUserId], visible);
    const createdAt = await insertBlock(trx, acting, blockedUserId);
    return { blocked_by_user_id: acting, blocked_user_id: blockedUserId, created_at: createdAt };
  });
}

export async function unblockUser(ctx: ServiceContext, caller: Caller, blockedUserId: string, userId: string | undefined): Promise<void> {
  const acting = actingUserId(caller, userId);
  checkBlockIds(acting, blockedUserId);
  const visible = await visibleTo(ctx, caller);
  await inTransaction(ctx.db, async (trx) => {
    await requireLiveUsers(trx, acting, [blockedUserId], visible);
    await deleteBlock(trx, acting, blockedUserId);
  });
}

export async function getBlockedUsers(ctx: ServiceContext, caller: Caller, userId: string | undefined): Promise<BlockWithUsers[]> {
  const acting = actingUserId(caller, userId);
  checkUserId(acting);
  const visible = await visibleTo(ctx, caller);
  const owner = await requireLiveUsers(ctx.db, acting, [], visible);
  const blocks = await listBlocks(ctx.db, acting);
  const blocked = new Map((await findUsersByIds(ctx.db, blocks.map((b) => b.blocked_user_id))).map((row) => [row.id, row]));
  return blocks.flatMap((block) => {
    const blockedUser = blocked.get(block.blocked_user_id);
    if (!blockedUser || blockedUser.deleted_at !== null || !visible(owner, blockedUser)) return [];
    return [{ user_id: acting, blocked_user_id: block.blocked_user_id, created_at: block.created_at, user: owner, blocked_user: blockedUser }];
  });
}

// --- WebSocket connect -------------------------------------------------------------------------------------------------

/**
 * Creates or updates the connecting user from its `user_details` (see connect-details.ts), in one transaction.
 * Concurrent connects of the same user are serialized by a transaction-scoped lock, so that two first connections
 * can't both create (and the second replace) the user. A name written is held to the app's unique-username rule.
 */
export async function syncConnectingUser(ctx: ServiceContext, userId: string, rawDetails: Record<string, unknown>): Promise<UserRow> {
  const details = splitDetails(rawDetails);
  return inTransaction(ctx.db, async (trx) => {
    // The lock order (src/db/locks.ts): the id, then its row (when it exists), then the name it is given.
    await lockUserId(trx, 'connect', userId);
    await lockUsers(trx, [userId]);
    const [row] = await findUsersByIds(trx, [userId]);
    // The token check refused deactivated and deleted users already; the update refuses them too, should one have
    // been deactivated meanwhile.
    const set = row ? changesFor(row, details) : undefined;
    if (row && !set) return row;

    const name = (row ? set!.name : details.fields.name) as string | undefined;
    // Read inside the transaction: settings read through the cache would wait for this connection on PGlite.
    const uniqueNames = name === undefined ? 'no' : (await ctx.settings.read(trx)).enforce_unique_usernames;
    if (uniqueNames !== 'no') await lockUsernames(trx, [name]);
    let written: UserRow;
    if (row) {
      written = await applyChange(trx, compileChange({ id: userId, set: set! }, true, ctx.limits));
    } else {
      [written] = (await writeUpserts(trx, [{ ...details.fields, id: userId, custom: details.custom } as UserRequest], ctx.limits)) as [UserRow];
    }
    await checkUniqueUsernames(trx, uniqueNames, [written]);
    if (stateChanged(row, written)) await ctx.events.record(trx, [userUpdated(written)]);
    return written;
  });
}

// --- unique usernames --------------------------------------------------------------------------------------------------

/**
 * Fails when a written user's name is taken by another active user (in a shared team, for `team`). The writer took
 * lockUsernames on the names first, so a concurrent writer of the same name sees this one's committed row.
 */
export async function checkUniqueUsernames(trx: Tx, mode: UniqueUsernames, rows: UserRow[]): Promise<void> {
  if (mode === 'no') return;
  for (const row of rows) {
    if (row.name === null || row.name === '' || row.deactivated_at !== null || row.deleted_at !== null) continue;
    const other = await findNameConflict(trx, row.name, row.id, row.teams, mode === 'team');
    if (other) {
      throw new StreamError(
        ErrorCode.DuplicateUsername,
        mode === 'team' ? `username '${row.name}' already exists in team '${other.team}'` : `username '${row.name}' already exists`,
      );
    }
  }
}
