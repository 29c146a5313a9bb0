// The synchronous v2 users endpoints. Each request runs in one transaction: a rejected request writes nothing.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { AppCredentials, Caller } from '../auth/plugin.js';
import { signUserToken } from '../auth/jwt.js';
import type { Database } from '../db/schema.js';
import { inputError } from '../http/errors.js';
import { withErrors } from '../http/schemas.js';
import { blockUser, getBlockedUsers, unblockUser } from './blocks.js';
import { createGuest } from './guests.js';
import { updateUsersPartial } from './partial-update.js';
import { parseQueryPayload, queryUsers } from './query.js';
import { fullUserV2, userV2 } from './representation.js';
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
} from './schemas.js';
import { upsertUsers } from './upsert.js';

export interface UsersRoutesOptions {
  db: Kysely<Database>;
  credentials: () => AppCredentials;
}

const tags = ['users'];

/** The acting user of a block request: the caller client-side, `user_id` (or `user.id`) server-side. */
function actingUserId(caller: Caller, body: { user_id?: string; user?: { id: string } }): string {
  if (caller.kind === 'user') return caller.userId;
  const id = body.user_id ?? body.user?.id;
  if (!id) throw inputError('either user_id or user is required for server-side requests');
  return id;
}

export const usersRoutes: FastifyPluginAsyncTypebox<UsersRoutesOptions> = async (app, { db, credentials }) => {
  app.route({
    method: 'POST',
    url: '/users',
    schema: {
      operationId: 'UpdateUsers',
      summary: 'Upsert users',
      tags,
      body: Type.Ref(UpdateUsersRequest),
      response: withErrors({ 201: Type.Ref(UpdateUsersResponse) }),
    },
    handler: async (request, reply) => {
      const users = Object.values(request.body.users);
      const rows = await db.transaction().execute((trx) => upsertUsers(trx, users));
      reply.code(201);
      return {
        users: Object.fromEntries(rows.map((row) => [row.id, fullUserV2(row)])),
        membership_deletion_task_id: '',
      };
    },
  });

  app.route({
    method: 'PATCH',
    url: '/users',
    schema: {
      operationId: 'UpdateUsersPartial',
      summary: 'Partially update users',
      tags,
      body: Type.Ref(UpdateUsersPartialRequest),
      response: withErrors({ 200: Type.Ref(UpdateUsersResponse) }),
    },
    handler: async (request) => {
      const rows = await db.transaction().execute((trx) => updateUsersPartial(trx, request.body.users));
      return {
        users: Object.fromEntries(rows.map((row) => [row.id, fullUserV2(row)])),
        membership_deletion_task_id: '',
      };
    },
  });

  app.route({
    method: 'GET',
    url: '/users',
    schema: {
      operationId: 'QueryUsers',
      summary: 'Query users',
      tags,
      querystring: QueryUsersQuery,
      response: withErrors({ 200: Type.Ref(QueryUsersResponse) }),
    },
    handler: async (request) => {
      const payload = parseQueryPayload(request.query.payload);
      const rows = await queryUsers(db, payload);
      return { users: rows.map(fullUserV2) };
    },
  });

  app.route({
    method: 'POST',
    url: '/guest',
    schema: {
      operationId: 'CreateGuest',
      summary: 'Create a guest user',
      tags,
      body: Type.Ref(CreateGuestRequest),
      response: withErrors({ 201: Type.Ref(CreateGuestResponse) }),
    },
    handler: async (request, reply) => {
      const row = await db.transaction().execute((trx) => createGuest(trx, request.body.user));
      reply.code(201);
      return { user: userV2(row), access_token: await signUserToken(row.id, credentials().key) };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/block',
    schema: {
      operationId: 'BlockUsers',
      summary: 'Block a user',
      tags,
      body: Type.Ref(BlockUsersRequest),
      response: withErrors({ 201: Type.Ref(BlockUsersResponse) }),
    },
    handler: async (request, reply) => {
      const userId = actingUserId(request.caller, request.body);
      const block = await db.transaction().execute((trx) => blockUser(trx, userId, request.body.blocked_user_id));
      reply.code(201);
      return { ...block, created_at: block.created_at * 1000n };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/unblock',
    schema: {
      operationId: 'UnblockUsers',
      summary: 'Unblock a user',
      tags,
      body: Type.Ref(UnblockUsersRequest),
      response: withErrors({ 201: Type.Ref(DurationResponse) }),
    },
    handler: async (request, reply) => {
      const userId = actingUserId(request.caller, request.body);
      await db.transaction().execute((trx) => unblockUser(trx, userId, request.body.blocked_user_id));
      reply.code(201);
      return {};
    },
  });

  app.route({
    method: 'GET',
    url: '/users/block',
    schema: {
      operationId: 'GetBlockedUsers',
      summary: 'List the users a user blocks',
      tags,
      querystring: GetBlockedUsersQuery,
      response: withErrors({ 200: Type.Ref(GetBlockedUsersResponse) }),
    },
    handler: async (request) => {
      const userId = actingUserId(request.caller, { user_id: request.query.user_id });
      const blocks = await getBlockedUsers(db, userId);
      return {
        blocks: blocks.map((block) => ({
          user_id: block.user_id,
          blocked_user_id: block.blocked_user_id,
          created_at: block.created_at * 1000n,
          user: userV2(block.user),
          blocked_user: userV2(block.blocked_user),
        })),
      };
    },
  });
};
