// The v1 paths `stream-chat` uses (no /api/v2 prefix; reference §7): the same operations as the v2 routes, through
// the same service functions, with the v1 representation — custom fields flattened to the top level of a user, in
// and out, and date-times as RFC3339 strings with microseconds. Each route shares its v2 twin's Stream operation
// name (`config.operation`: error messages and rate-limit bucket), callers (`config.access`) and status codes;
// only its OpenAPI operationId differs (suffix V1).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { appResponseFields, UpdateAppRequest } from '../app-settings/routes.js';
import type { AppSettingsCache } from '../app-settings/service.js';
import type { AppCredentials } from '../auth/plugin.js';
import type { Database } from '../db/schema.js';
import { microsToRfc3339 } from '../db/timestamps.js';
import { toJsonText } from '../http/json.js';
import { withErrors } from '../http/schemas.js';
import { taskResponseText, type TaskRepresentation } from '../tasks/routes.js';
import { exportUser } from '../users/export.js';
import {
  deactivateUser,
  deleteUsers,
  enqueueDeactivation,
  enqueueExport,
  enqueueReactivation,
  reactivateUser,
  restoreUsers,
  type DeleteOptions,
  type TaskSettings,
} from '../users/lifecycle.js';
import {
  DeactivateUserRequest,
  DeactivateUsersRequest,
  DeleteUsersRequest,
  ExportUsersRequest,
  ReactivateUserRequest,
  ReactivateUsersRequest,
  RestoreUsersRequest,
  TaskIdResponse,
} from '../users/lifecycle-schemas.js';
import {
  blockUserAs,
  createGuestAs,
  getBlockedUsersAs,
  queryUsersAs,
  unblockUserAs,
  updateUsersPartialAs,
  upsertUsersAs,
  type OperationContext,
} from '../users/operations.js';
import { parseQueryPayload } from '../users/query.js';
import type { UserRow } from '../users/representation.js';
import { DurationResponse, GetBlockedUsersQuery, QueryUsersQuery, UpdateUsersPartialRequest } from '../users/schemas.js';
import { findUsersByIds } from '../users/store.js';
import { parseJsonExact } from './json.js';
import { fullUserV1, userRequestFromV1, userV1, userV1FromV2 } from './representation.js';
import {
  BlockUsersRequestV1,
  BlockUsersResponseV1,
  CreateGuestRequestV1,
  CreateGuestResponseV1,
  DeleteUserQueryV1,
  DeleteUserResponseV1,
  ExportUserResponseV1,
  GetApplicationResponseV1,
  GetBlockedUsersResponseV1,
  GetTaskResponseV1,
  QueryUsersResponseV1,
  UnblockUsersRequestV1,
  UpdateUsersRequestV1,
  UpdateUsersResponseV1,
  UserResultResponseV1,
} from './schemas.js';

export interface V1RoutesOptions {
  db: Kysely<Database>;
  settings: AppSettingsCache;
  credentials: () => AppCredentials;
  tasks: TaskSettings;
  /** Base of export download links; else taken from the request. */
  publicUrl?: string;
}

const tags = ['v1'];
const UserIdParams = Type.Object({ user_id: Type.String() });

/** Task results that hold users (written in the v2 shape by the task handlers). */
const TASKS_WITH_USERS = new Set(['DeactivateUsers', 'ReactivateUsers']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** v1 tasks: RFC3339 date-times, and the users of a stored result rewritten in the v1 shape. */
const taskV1: TaskRepresentation = {
  time: microsToRfc3339,
  result(type, text) {
    if (!TASKS_WITH_USERS.has(type)) return text;
    const result = parseJsonExact(text);
    if (isObject(result) && Array.isArray(result.users)) {
      result.users = result.users.map((user) => (isObject(user) ? userV1FromV2(user) : user));
    }
    return toJsonText(result);
  },
};

const usersMapV1 = (rows: UserRow[]) => Object.fromEntries(rows.map((row) => [row.id, fullUserV1(row)]));

const isTrue = (value: string | undefined) => value === 'true';

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

export const v1Routes: FastifyPluginAsyncTypebox<V1RoutesOptions> = async (app, { db, settings, credentials, tasks, publicUrl }) => {
  const as = (request: FastifyRequest): OperationContext => ({ db, caller: request.caller, credentials: credentials(), settings });
  const taskOptions = { db, apiSecret: () => credentials().apiSecret, publicUrl };

  // ---- users: query, upsert, partial update (and token revocation through it)

  app.route({
    method: 'GET',
    url: '/users',
    config: { operation: 'QueryUsers', access: ['user'] },
    schema: {
      operationId: 'QueryUsersV1',
      summary: 'Query users (stream-chat queryUsers)',
      tags,
      querystring: QueryUsersQuery,
      response: withErrors({ 200: Type.Ref(QueryUsersResponseV1) }),
    },
    handler: async (request) => {
      const rows = await queryUsersAs(as(request), parseQueryPayload(request.query.payload));
      return { users: rows.map(fullUserV1) };
    },
  });

  app.route({
    method: 'POST',
    url: '/users',
    config: { operation: 'UpdateUsers', access: ['user'] },
    schema: {
      operationId: 'UpdateUsersV1',
      summary: 'Upsert users, custom fields flattened (stream-chat upsertUser, upsertUsers)',
      tags,
      body: Type.Ref(UpdateUsersRequestV1),
      response: withErrors({ 201: Type.Ref(UpdateUsersResponseV1) }),
    },
    handler: async (request, reply) => {
      const users = Object.values(request.body.users).map((user) => userRequestFromV1(user as Record<string, unknown>));
      const rows = await upsertUsersAs(as(request), users);
      reply.code(201);
      return { users: usersMapV1(rows), membership_deletion_task_id: '' };
    },
  });

  app.route({
    method: 'PATCH',
    url: '/users',
    config: { operation: 'UpdateUsersPartial', access: ['user'] },
    schema: {
      operationId: 'UpdateUsersPartialV1',
      summary: 'Partially update users (stream-chat partialUpdateUser(s), revokeUserToken, revokeUsersToken)',
      description: 'Token revocation is `set: {revoke_tokens_issued_before: <RFC3339 date-time or null>}`.',
      tags,
      body: Type.Ref(UpdateUsersPartialRequest),
      response: withErrors({ 200: Type.Ref(UpdateUsersResponseV1) }),
    },
    handler: async (request) => {
      const rows = await updateUsersPartialAs(as(request), request.body.users);
      return { users: usersMapV1(rows), membership_deletion_task_id: '' };
    },
  });

  // ---- guests and blocks

  app.route({
    method: 'POST',
    url: '/guest',
    config: { operation: 'CreateGuest', access: ['user', 'anonymous'] },
    schema: {
      operationId: 'CreateGuestV1',
      summary: 'Create a guest user (stream-chat setGuestUser, anonymous auth)',
      tags,
      body: Type.Ref(CreateGuestRequestV1),
      response: withErrors({ 201: Type.Ref(CreateGuestResponseV1) }),
    },
    handler: async (request, reply) => {
      const { row, accessToken } = await createGuestAs(as(request), userRequestFromV1(request.body.user as Record<string, unknown>));
      reply.code(201);
      return { user: userV1(row), access_token: accessToken };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/block',
    config: { operation: 'BlockUsers', access: ['user'] },
    schema: {
      operationId: 'BlockUsersV1',
      summary: 'Block a user (stream-chat blockUser)',
      tags,
      body: Type.Ref(BlockUsersRequestV1),
      response: withErrors({ 201: Type.Ref(BlockUsersResponseV1) }),
    },
    handler: async (request, reply) => {
      const { blocked_user_id, user_id, user } = request.body;
      const block = await blockUserAs(as(request), blocked_user_id, user_id ?? user?.id);
      const createdAt = microsToRfc3339(block.created_at);
      reply.code(201);
      return { blocked_by_user_id: block.blocked_by_user_id, blocked_user_id: block.blocked_user_id, created_at: createdAt, blocked_at: createdAt };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/unblock',
    config: { operation: 'UnblockUsers', access: ['user'] },
    schema: {
      operationId: 'UnblockUsersV1',
      summary: 'Unblock a user (stream-chat unBlockUser)',
      tags,
      body: Type.Ref(UnblockUsersRequestV1),
      response: withErrors({ 201: Type.Ref(DurationResponse) }),
    },
    handler: async (request, reply) => {
      const { blocked_user_id, user_id, user } = request.body;
      await unblockUserAs(as(request), blocked_user_id, user_id ?? user?.id);
      reply.code(201);
      return {};
    },
  });

  app.route({
    method: 'GET',
    url: '/users/block',
    config: { operation: 'GetBlockedUsers', access: ['user'] },
    schema: {
      operationId: 'GetBlockedUsersV1',
      summary: 'List the users a user blocks (stream-chat getBlockedUsers)',
      tags,
      querystring: GetBlockedUsersQuery,
      response: withErrors({ 200: Type.Ref(GetBlockedUsersResponseV1) }),
    },
    handler: async (request) => {
      const blocks = await getBlockedUsersAs(as(request), request.query.user_id);
      return {
        blocks: blocks.map((block) => ({
          user_id: block.user_id,
          blocked_user_id: block.blocked_user_id,
          created_at: microsToRfc3339(block.created_at),
          user: userV1(block.user),
          blocked_user: userV1(block.blocked_user),
        })),
      };
    },
  });

  // ---- lifecycle: deactivate, reactivate, delete, restore, export

  app.route({
    method: 'POST',
    url: '/users/:user_id/deactivate',
    config: { operation: 'DeactivateUser' },
    schema: {
      operationId: 'DeactivateUserV1',
      summary: 'Deactivate a user (stream-chat deactivateUser)',
      tags,
      params: UserIdParams,
      body: Type.Optional(Type.Ref(DeactivateUserRequest)),
      response: withErrors({ 201: Type.Ref(UserResultResponseV1) }),
    },
    handler: async (request, reply) => {
      const row = await db.transaction().execute((trx) => deactivateUser(trx, request.params.user_id, request.body ?? {}));
      reply.code(201);
      return { user: userV1(row) };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/:user_id/reactivate',
    config: { operation: 'ReactivateUser' },
    schema: {
      operationId: 'ReactivateUserV1',
      summary: 'Reactivate a user (stream-chat reactivateUser)',
      tags,
      params: UserIdParams,
      body: Type.Optional(Type.Ref(ReactivateUserRequest)),
      response: withErrors({ 201: Type.Ref(UserResultResponseV1) }),
    },
    handler: async (request, reply) => {
      const row = await db.transaction().execute((trx) => reactivateUser(trx, request.params.user_id, request.body ?? {}));
      reply.code(201);
      return { user: userV1(row) };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/deactivate',
    config: { operation: 'DeactivateUsers' },
    schema: {
      operationId: 'DeactivateUsersV1',
      summary: 'Deactivate users in bulk, asynchronously (stream-chat deactivateUsers)',
      tags,
      body: Type.Ref(DeactivateUsersRequest),
      response: withErrors({ 201: Type.Ref(TaskIdResponse) }),
    },
    handler: async (request, reply) => {
      const { user_ids, ...options } = request.body;
      const taskId = await db.transaction().execute((trx) => enqueueDeactivation(trx, user_ids, options, tasks));
      reply.code(201);
      return { task_id: taskId };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/reactivate',
    config: { operation: 'ReactivateUsers' },
    schema: {
      operationId: 'ReactivateUsersV1',
      summary: 'Reactivate users in bulk, asynchronously (stream-chat reactivateUsers)',
      tags,
      body: Type.Ref(ReactivateUsersRequest),
      response: withErrors({ 201: Type.Ref(TaskIdResponse) }),
    },
    handler: async (request, reply) => {
      const { user_ids, ...options } = request.body;
      const taskId = await db.transaction().execute((trx) => enqueueReactivation(trx, user_ids, options, tasks));
      reply.code(201);
      return { task_id: taskId };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/delete',
    config: { operation: 'DeleteUsers' },
    schema: {
      operationId: 'DeleteUsersV1',
      summary: 'Delete users, asynchronously (stream-chat deleteUsers)',
      tags,
      body: Type.Ref(DeleteUsersRequest),
      response: withErrors({ 201: Type.Ref(TaskIdResponse) }),
    },
    handler: async (request, reply) => {
      const { user_ids, ...options } = request.body;
      const taskId = await db.transaction().execute((trx) => deleteUsers(trx, user_ids, options as DeleteOptions, tasks));
      reply.code(201);
      return { task_id: taskId };
    },
  });

  app.route({
    method: 'DELETE',
    url: '/users/:user_id',
    config: { operation: 'DeleteUser' },
    schema: {
      operationId: 'DeleteUserV1',
      summary: 'Delete a user, legacy form (stream-chat deleteUser)',
      description:
        'Marks the user deleted at once, as DeleteUsers does, and enqueues the DeleteUsers task that finishes the job. ' +
        '`hard_delete=true` is DeleteUsers with user, messages and conversations "hard"; otherwise the user is soft deleted, ' +
        'with `mark_messages_deleted` its messages and with `delete_conversation_channels` its 1:1 channels.',
      tags,
      params: UserIdParams,
      querystring: DeleteUserQueryV1,
      response: withErrors({ 200: Type.Ref(DeleteUserResponseV1) }),
    },
    handler: async (request) => {
      const id = request.params.user_id;
      const { row, taskId } = await db.transaction().execute(async (trx) => {
        const taskId = await deleteUsers(trx, [id], legacyDeleteOptions(request.query), tasks);
        const [row] = await findUsersByIds(trx, [id]);
        return { row: row!, taskId };
      });
      return { user: userV1(row), task_id: taskId };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/restore',
    config: { operation: 'RestoreUsers' },
    schema: {
      operationId: 'RestoreUsersV1',
      summary: 'Restore soft-deleted users (stream-chat restoreUsers)',
      tags,
      body: Type.Ref(RestoreUsersRequest),
      response: withErrors({ 201: Type.Ref(DurationResponse) }),
    },
    handler: async (request, reply) => {
      await db.transaction().execute((trx) => restoreUsers(trx, request.body.user_ids));
      reply.code(201);
      return {};
    },
  });

  app.route({
    method: 'GET',
    url: '/users/:user_id/export',
    config: { operation: 'ExportUser' },
    schema: {
      operationId: 'ExportUserV1',
      summary: "Export a user's data (stream-chat exportUser)",
      tags,
      params: UserIdParams,
      response: withErrors({ 200: Type.Ref(ExportUserResponseV1) }),
    },
    handler: async (request) => {
      const exported = await exportUser(db, request.params.user_id);
      return { ...exported, user: userV1FromV2(exported.user as unknown as Record<string, unknown>) };
    },
  });

  app.route({
    method: 'POST',
    url: '/export/users',
    config: { operation: 'ExportUsers' },
    schema: {
      operationId: 'ExportUsersV1',
      summary: 'Export users, asynchronously (stream-chat exportUsers)',
      tags,
      body: Type.Ref(ExportUsersRequest),
      response: withErrors({ 201: Type.Ref(TaskIdResponse) }),
    },
    handler: async (request, reply) => {
      const taskId = await db.transaction().execute((trx) => enqueueExport(trx, request.body.user_ids, tasks));
      reply.code(201);
      return { task_id: taskId };
    },
  });

  app.route({
    method: 'GET',
    url: '/tasks/:id',
    config: { operation: 'GetTask' },
    schema: {
      operationId: 'GetTaskV1',
      summary: 'Get the status of an asynchronous task (stream-chat getTask)',
      tags,
      params: Type.Object({ id: Type.String() }),
      response: withErrors({ 200: Type.Ref(GetTaskResponseV1) }),
    },
    handler: async (request, reply) => {
      const body = await taskResponseText(request, request.params.id, taskOptions, taskV1);
      return reply.type('application/json; charset=utf-8').send(body);
    },
  });

  // ---- app settings (and app-wide token revocation)

  app.route({
    method: 'GET',
    url: '/app',
    config: { operation: 'GetApp' },
    schema: {
      operationId: 'GetAppV1',
      summary: "Get the app's settings (stream-chat getAppSettings)",
      tags,
      response: withErrors({ 200: Type.Ref(GetApplicationResponseV1) }),
    },
    handler: async () => ({ app: await appResponseFields(db, credentials().apiKey, microsToRfc3339) }),
  });

  app.route({
    method: 'PATCH',
    url: '/app',
    config: { operation: 'UpdateApp' },
    schema: {
      operationId: 'UpdateAppV1',
      summary: "Update the app's settings (stream-chat updateAppSettings, revokeTokens)",
      tags,
      body: Type.Ref(UpdateAppRequest),
      response: withErrors({ 200: Type.Ref(DurationResponse) }),
    },
    handler: async (request) => {
      await settings.update(request.body as Record<string, unknown>);
      return {};
    },
  });
};
