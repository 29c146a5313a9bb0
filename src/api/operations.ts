// Every Stream operation this server serves, declared once: its paths under /api/v2 (node-sdk) and without a prefix
// (v1, stream-chat), who may call it, its schemas, and the service function it calls. routes.ts renders each as one
// route per family; the representation (representation.ts) is the only difference between the two.
import type { UserRow } from '../db/schema.js';
import { Type } from '@sinclair/typebox';
import { ActiveUsersResponse } from '../activity/schemas.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { ClearDataQuery, ClearDataResponse } from '../data/schemas.js';
import { clearData } from '../data/service.js';
import { monthlyActiveUsers } from '../activity/service.js';
import { GetApplicationResponse, UpdateAppRequest } from '../app-settings/schemas.js';
import { exportUser, exportUsers } from '../exports/service.js';
import {
  DeactivateUserRequest,
  DeactivateUsersRequest,
  DeleteUsersRequest,
  ExportUserResponse,
  ExportUsersRequest,
  ReactivateUserRequest,
  ReactivateUsersRequest,
  RestoreUsersRequest,
  TaskIdResponse,
  UserResultResponse,
} from '../lifecycle/schemas.js';
import {
  deactivateUser,
  deactivateUsers,
  deleteUser,
  deleteUsers,
  reactivateUser,
  reactivateUsers,
  restoreUsers,
  type DeleteOptions,
} from '../lifecycle/service.js';
import { parsePgTimestamp } from '../db/timestamps.js';
import { GetRateLimitsQuery, GetRateLimitsResponse } from '../rate-limits/schemas.js';
import { CONNECT_OPERATION, PLATFORMS } from '../rate-limits/service.js';
import { GetTaskResponse } from '../tasks/schemas.js';
import { WebhookDeliveriesResponse } from '../webhooks/schemas.js';
import { currentWebhookReport } from '../webhooks/service.js';
import { getTaskText } from '../tasks/service.js';
import { parseQueryPayload } from '../users/query-payload.js';
import {
  BlockUsersRequest,
  BlockUsersResponse,
  CreateGuestRequest,
  CreateGuestResponse,
  DurationResponse,
  GetBlockedUsersQuery,
  GetBlockedUsersResponse,
  QueryUsersQuery,
  QueryUsersResponse,
  UnblockUsersRequest,
  UpdateUsersPartialRequest,
  UpdateUsersRequest,
  UpdateUsersResponse,
} from '../users/schemas.js';
import {
  blockUser,
  createGuest,
  getBlockedUsers,
  queryUsers,
  unblockUser,
  updateUsersPartial,
  upsertUsers,
} from '../users/service.js';
import type { Caller } from '../auth/core.js';
import { JsonText, operation, type Operation } from './operation.js';
import type { Representation } from './representation.js';
import { DeleteUserQueryV1, DeleteUserResponseV1 } from './schemas-v1.js';

const UserIdParams = Type.Object({ user_id: Type.String() });

const usersById = (rows: UserRow[], rep: Representation) => Object.fromEntries(rows.map((row) => [row.id, rep.fullUser(row)]));

/**
 * Whether a caller sees a user as another user does (without who it blocks, its token cut-off and its privacy
 * settings): a user token sees its own user in full, server-side callers see everyone in full.
 */
const seesAsOther = (caller: Caller, row: UserRow) => caller.kind !== 'server' && !(caller.kind === 'user' && caller.userId === row.id);

const isTrue = (value: string | undefined) => value === 'true';

/** A boolean query parameter as the SDKs send it: node-sdk and stream-chat write `true`, Stream's Python client `True`. */
const isFlagSet = (value: string | undefined) => value !== undefined && /^(true|1)$/i.test(value);

/** The names of the operations this server counts, once each: its routes', and WebSocket connects'. */
const operationNames = () => [...new Set(operations.map((op) => op.name)), CONNECT_OPERATION];

/**
 * The legacy single-user delete as DeleteUsers options: `hard_delete` removes the user with its messages and
 * conversations (DeleteUsers requires all three hard), `mark_messages_deleted` soft deletes the messages and
 * `delete_conversation_channels` the 1:1 channels.
 */
export function legacyDeleteOptions(query: { hard_delete?: string; mark_messages_deleted?: string; delete_conversation_channels?: string }): DeleteOptions {
  if (isTrue(query.hard_delete)) return { user: 'hard', messages: 'hard', conversations: 'hard' };
  return {
    user: 'soft',
    ...(isTrue(query.mark_messages_deleted) ? { messages: 'soft' as const } : {}),
    ...(isTrue(query.delete_conversation_channels) ? { conversations: 'soft' as const } : {}),
  };
}

export const operations: Operation[] = [
  // ---- users: upsert, partial update (and token revocation through it), query

  operation({
    name: 'UpdateUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users', summary: 'Upsert users' },
    v1: { path: '/users', summary: 'Upsert users, custom fields flattened (stream-chat upsertUser, upsertUsers)' },
    access: ['user'],
    status: 201,
    body: UpdateUsersRequest,
    response: UpdateUsersResponse,
    async handle({ ctx, caller, rep, body }) {
      const rows = await upsertUsers(ctx, caller, Object.values(body.users).map(rep.userRequest));
      return { users: usersById(rows, rep), membership_deletion_task_id: '' };
    },
  }),

  operation({
    name: 'UpdateUsersPartial',
    method: 'PATCH',
    tag: 'users',
    v2: { path: '/api/v2/users', summary: 'Partially update users' },
    v1: {
      path: '/users',
      summary: 'Partially update users (stream-chat partialUpdateUser(s), revokeUserToken, revokeUsersToken)',
      description: 'Token revocation is `set: {revoke_tokens_issued_before: <RFC3339 date-time or null>}`.',
    },
    access: ['user'],
    status: 200,
    body: UpdateUsersPartialRequest,
    response: UpdateUsersResponse,
    async handle({ ctx, caller, rep, body }) {
      const rows = await updateUsersPartial(ctx, caller, body.users);
      return { users: usersById(rows, rep), membership_deletion_task_id: '' };
    },
  }),

  operation({
    name: 'QueryUsers',
    method: 'GET',
    tag: 'users',
    v2: { path: '/api/v2/users', summary: 'Query users' },
    v1: { path: '/users', summary: 'Query users (stream-chat queryUsers)' },
    access: ['user'],
    status: 200,
    query: QueryUsersQuery,
    response: QueryUsersResponse,
    async handle({ ctx, caller, rep, query }) {
      const rows = await queryUsers(ctx, caller, parseQueryPayload(query.payload, ctx.limits));
      return { users: rows.map((row) => rep.fullUser(row, seesAsOther(caller, row))) };
    },
  }),

  // ---- guests and blocks

  operation({
    name: 'CreateGuest',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/guest', summary: 'Create a guest user' },
    v1: { path: '/guest', summary: 'Create a guest user (stream-chat setGuestUser, anonymous auth)' },
    access: ['user', 'anonymous'],
    status: 201,
    body: CreateGuestRequest,
    response: CreateGuestResponse,
    async handle({ ctx, caller, rep, body }) {
      const { row, accessToken } = await createGuest(ctx, caller, rep.userRequest(body.user));
      return { user: rep.user(row), access_token: accessToken };
    },
  }),

  operation({
    name: 'BlockUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/block', summary: 'Block a user' },
    v1: { path: '/users/block', summary: 'Block a user (stream-chat blockUser)' },
    access: ['user'],
    status: 201,
    body: BlockUsersRequest,
    response: BlockUsersResponse,
    async handle({ ctx, caller, rep, body }) {
      return rep.block(await blockUser(ctx, caller, body.blocked_user_id, body.user_id ?? body.user?.id));
    },
  }),

  operation({
    name: 'UnblockUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/unblock', summary: 'Unblock a user' },
    v1: { path: '/users/unblock', summary: 'Unblock a user (stream-chat unBlockUser)' },
    access: ['user'],
    status: 201,
    body: UnblockUsersRequest,
    response: DurationResponse,
    async handle({ ctx, caller, body }) {
      await unblockUser(ctx, caller, body.blocked_user_id, body.user_id ?? body.user?.id);
      return {};
    },
  }),

  operation({
    name: 'GetBlockedUsers',
    method: 'GET',
    tag: 'users',
    v2: { path: '/api/v2/users/block', summary: 'List the users a user blocks' },
    v1: { path: '/users/block', summary: 'List the users a user blocks (stream-chat getBlockedUsers)' },
    access: ['user'],
    status: 200,
    query: GetBlockedUsersQuery,
    response: GetBlockedUsersResponse,
    async handle({ ctx, caller, rep, query }) {
      const blocks = await getBlockedUsers(ctx, caller, query.user_id);
      return {
        blocks: blocks.map((block) => ({
          user_id: block.user_id,
          blocked_user_id: block.blocked_user_id,
          created_at: rep.time(block.created_at),
          user: rep.user(block.user, seesAsOther(caller, block.user)),
          blocked_user: rep.user(block.blocked_user, seesAsOther(caller, block.blocked_user)),
        })),
      };
    },
  }),

  // ---- deactivation, reactivation, deletion, restore, export

  operation({
    name: 'DeactivateUser',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/:user_id/deactivate', summary: 'Deactivate a user' },
    v1: { path: '/users/:user_id/deactivate', summary: 'Deactivate a user (stream-chat deactivateUser)' },
    status: 201,
    params: UserIdParams,
    body: DeactivateUserRequest,
    bodyOptional: true,
    response: UserResultResponse,
    async handle({ ctx, rep, params, body }) {
      return { user: rep.user(await deactivateUser(ctx, params.user_id, body)) };
    },
  }),

  operation({
    name: 'ReactivateUser',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/:user_id/reactivate', summary: 'Reactivate a user' },
    v1: { path: '/users/:user_id/reactivate', summary: 'Reactivate a user (stream-chat reactivateUser)' },
    status: 201,
    params: UserIdParams,
    body: ReactivateUserRequest,
    bodyOptional: true,
    response: UserResultResponse,
    async handle({ ctx, rep, params, body }) {
      return { user: rep.user(await reactivateUser(ctx, params.user_id, body)) };
    },
  }),

  operation({
    name: 'DeactivateUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/deactivate', summary: 'Deactivate users in bulk (asynchronous)' },
    v1: { path: '/users/deactivate', summary: 'Deactivate users in bulk, asynchronously (stream-chat deactivateUsers)' },
    status: 201,
    body: DeactivateUsersRequest,
    response: TaskIdResponse,
    async handle({ ctx, body: { user_ids, ...options } }) {
      return { task_id: await deactivateUsers(ctx, user_ids, options) };
    },
  }),

  operation({
    name: 'ReactivateUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/reactivate', summary: 'Reactivate users in bulk (asynchronous)' },
    v1: { path: '/users/reactivate', summary: 'Reactivate users in bulk, asynchronously (stream-chat reactivateUsers)' },
    status: 201,
    body: ReactivateUsersRequest,
    response: TaskIdResponse,
    async handle({ ctx, body: { user_ids, ...options } }) {
      return { task_id: await reactivateUsers(ctx, user_ids, options) };
    },
  }),

  operation({
    name: 'DeleteUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/delete', summary: 'Delete users (asynchronous)' },
    v1: { path: '/users/delete', summary: 'Delete users, asynchronously (stream-chat deleteUsers)' },
    status: 201,
    body: DeleteUsersRequest,
    response: TaskIdResponse,
    async handle({ ctx, body: { user_ids, ...options } }) {
      return { task_id: await deleteUsers(ctx, user_ids, options as DeleteOptions) };
    },
  }),

  operation({
    name: 'DeleteUser',
    method: 'DELETE',
    tag: 'users',
    v1: {
      path: '/users/:user_id',
      summary: 'Delete a user, legacy form (stream-chat deleteUser)',
      description:
        'Marks the user deleted at once, as DeleteUsers does, and enqueues the DeleteUsers task that finishes the job. ' +
        '`hard_delete=true` is DeleteUsers with user, messages and conversations "hard"; otherwise the user is soft deleted, ' +
        'with `mark_messages_deleted` its messages and with `delete_conversation_channels` its 1:1 channels.',
    },
    status: 200,
    params: UserIdParams,
    query: DeleteUserQueryV1,
    response: DeleteUserResponseV1,
    async handle({ ctx, rep, params, query }) {
      const { row, taskId } = await deleteUser(ctx, params.user_id, legacyDeleteOptions(query));
      return { user: rep.user(row), task_id: taskId };
    },
  }),

  operation({
    name: 'RestoreUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/users/restore', summary: 'Restore soft-deleted users' },
    v1: { path: '/users/restore', summary: 'Restore soft-deleted users (stream-chat restoreUsers)' },
    status: 201,
    body: RestoreUsersRequest,
    response: DurationResponse,
    async handle({ ctx, body }) {
      await restoreUsers(ctx, body.user_ids);
      return {};
    },
  }),

  operation({
    name: 'ExportUsers',
    method: 'POST',
    tag: 'users',
    v2: { path: '/api/v2/export/users', summary: 'Export users (asynchronous)' },
    v1: { path: '/export/users', summary: 'Export users, asynchronously (stream-chat exportUsers)' },
    status: 201,
    body: ExportUsersRequest,
    response: TaskIdResponse,
    async handle({ ctx, body }) {
      return { task_id: await exportUsers(ctx, body.user_ids) };
    },
  }),

  operation({
    name: 'ExportUser',
    method: 'GET',
    tag: 'users',
    v2: { path: '/api/v2/users/:user_id/export', summary: "Export a user's data" },
    v1: { path: '/users/:user_id/export', summary: "Export a user's data (stream-chat exportUser)" },
    status: 200,
    params: UserIdParams,
    response: ExportUserResponse,
    async handle({ ctx, rep, params }) {
      // This server holds no messages or reactions: they are exported empty, in Stream's shape.
      return { user: rep.user(await exportUser(ctx, params.user_id)), messages: [], reactions: [] };
    },
  }),

  // ---- tasks

  operation({
    name: 'GetTask',
    method: 'GET',
    tag: 'tasks',
    v2: { path: '/api/v2/tasks/:id', summary: 'Get the status of an asynchronous task' },
    v1: { path: '/tasks/:id', summary: 'Get the status of an asynchronous task (stream-chat getTask)' },
    status: 200,
    params: Type.Object({ id: Type.String() }),
    response: GetTaskResponse,
    async handle({ ctx, rep, params, baseUrl }) {
      return new JsonText(await getTaskText(ctx, params.id, rep, baseUrl));
    },
  }),

  // ---- app settings (and app-wide token revocation)

  operation({
    name: 'GetApp',
    method: 'GET',
    tag: 'app',
    v2: { path: '/api/v2/app', summary: "Get the app's settings" },
    v1: { path: '/app', summary: "Get the app's settings (stream-chat getAppSettings)" },
    status: 200,
    response: GetApplicationResponse,
    async handle({ ctx, rep }) {
      const settings = await ctx.settings.read(ctx.db);
      return {
        app: {
          name: ctx.credentials().apiKey,
          ...(settings.revoke_tokens_issued_before !== null ? { revoke_tokens_issued_before: rep.time(settings.revoke_tokens_issued_before) } : {}),
          guest_user_creation_disabled: settings.guest_user_creation_disabled,
          enforce_unique_usernames: settings.enforce_unique_usernames,
          multi_tenant_enabled: settings.multi_tenant_enabled,
          webhook_url: settings.webhook_url ?? '',
          webhook_events: settings.webhook_events,
          event_hooks: settings.event_hooks.map((hook) => ({
            ...hook,
            created_at: rep.time(parsePgTimestamp(hook.created_at)),
            updated_at: rep.time(parsePgTimestamp(hook.updated_at)),
          })),
        },
      };
    },
  }),

  operation({
    name: 'UpdateApp',
    method: 'PATCH',
    tag: 'app',
    v2: { path: '/api/v2/app', summary: "Update the app's settings" },
    v1: { path: '/app', summary: "Update the app's settings (stream-chat updateAppSettings, revokeTokens)" },
    status: 200,
    body: UpdateAppRequest,
    response: DurationResponse,
    async handle({ ctx, body }) {
      await ctx.settings.update(body as Record<string, unknown>);
      return {};
    },
  }),

  // ---- rate limits

  operation({
    name: 'GetRateLimits',
    method: 'GET',
    tag: 'app',
    v2: { path: '/api/v2/rate_limits', summary: "Get the app's rate limits and what is left of them" },
    v1: { path: '/rate_limits', summary: "Get the app's rate limits and what is left of them (stream-chat getRateLimits)" },
    status: 200,
    query: GetRateLimitsQuery,
    response: GetRateLimitsResponse,
    async handle({ ctx, query }) {
      const asked = PLATFORMS.filter((platform) => isFlagSet(query[platform]));
      const endpoints = query.endpoints?.split(',').map((name) => name.trim()).filter((name) => name !== '');
      return ctx.rateLimits.report(asked.length > 0 ? asked : PLATFORMS, endpoints?.length ? endpoints : operationNames());
    },
  }),

  // ---- this server's extensions, outside Stream's API

  operation({
    name: 'GetMonthlyActiveUsers',
    method: 'GET',
    tag: 'operator',
    v2: {
      path: '/operator/active-users',
      summary: 'Count monthly active users',
      description:
        "This server's extension, outside Stream's API: the number of distinct users active (user-token requests, WebSocket connections) in a calendar month. Requires server-side auth.",
    },
    status: 200,
    query: Type.Object({
      month: Type.Optional(Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM; default the current month (UTC)' })),
    }),
    response: ActiveUsersResponse,
    async handle({ ctx, query }) {
      return monthlyActiveUsers(ctx.db, query.month);
    },
  }),

  operation({
    name: 'GetWebhookDeliveries',
    method: 'GET',
    tag: 'operator',
    v2: {
      path: '/operator/webhooks',
      summary: 'Webhook deliveries by hook and state',
      description:
        "This server's extension, outside Stream's API: per hook (the app's webhook_url, each event hook of type webhook, and removed hooks that still have deliveries kept), deliveries pending (waiting for an attempt or being sent), failed and cancelled within the retention window, the age of the oldest pending one, and the last error; and the totals. URLs and errors are shown without query values. Requires server-side auth.",
    },
    status: 200,
    response: WebhookDeliveriesResponse,
    async handle({ ctx }) {
      return currentWebhookReport(ctx.db, ctx.settings);
    },
  }),

  operation({
    name: 'ClearData',
    method: 'DELETE',
    tag: 'operator',
    v2: {
      path: '/operator/data',
      summary: 'Empty the data (test double)',
      description:
        "This server's extension, outside Stream's API, for a server used as a test double: empties users, blocks, usernames, tombstones, tasks, webhook deliveries, exports, activity and rate counts, closes open WebSockets and forgets this process's counts and caches. `settings=true` also resets the app settings to their defaults; the credentials stay. Served by default in memory mode only (DATA_DIR=memory), elsewhere with ALLOW_CLEAR=on; otherwise it answers 404 as an unknown endpoint does. Requires server-side auth.",
    },
    status: 200,
    query: ClearDataQuery,
    response: ClearDataResponse,
    async handle({ ctx, query, caller, log }) {
      // Where clearing is not allowed the route answers as an unknown one does.
      if (!ctx.clearing.allowed) throw new StreamError(ErrorCode.DoesNotExist, 'DELETE /operator/data is not a known endpoint');
      const result = await clearData(ctx, { settings: query.settings === 'true' });
      log.warn({ caller: caller.kind, settingsReset: result.settings_reset }, 'cleared all data (DELETE /operator/data)');
      return result;
    },
  }),
];
