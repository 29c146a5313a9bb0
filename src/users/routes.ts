// The synchronous v2 users endpoints. Each request runs in one transaction: a rejected request writes nothing.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { AppSettingsCache } from '../app-settings/service.js';
import type { AppCredentials } from '../auth/plugin.js';
import type { Database } from '../db/schema.js';
import { microsToNanos } from '../db/timestamps.js';
import { withErrors } from '../http/schemas.js';
import {
  blockUserAs,
  createGuestAs,
  getBlockedUsersAs,
  queryUsersAs,
  unblockUserAs,
  updateUsersPartialAs,
  upsertUsersAs,
  type OperationContext,
} from './operations.js';
import { parseQueryPayload } from './query.js';
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

export interface UsersRoutesOptions {
  db: Kysely<Database>;
  credentials: () => AppCredentials;
  settings: AppSettingsCache;
}

const tags = ['users'];

export const usersRoutes: FastifyPluginAsyncTypebox<UsersRoutesOptions> = async (app, { db, credentials, settings }) => {
  const as = (request: FastifyRequest): OperationContext => ({ db, caller: request.caller, credentials: credentials(), settings });

  app.route({
    method: 'POST',
    url: '/users',
    config: { access: ['user'] },
    schema: {
      operationId: 'UpdateUsers',
      summary: 'Upsert users',
      tags,
      body: Type.Ref(UpdateUsersRequest),
      response: withErrors({ 201: Type.Ref(UpdateUsersResponse) }),
    },
    handler: async (request, reply) => {
      const rows = await upsertUsersAs(as(request), Object.values(request.body.users));
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
    config: { access: ['user'] },
    schema: {
      operationId: 'UpdateUsersPartial',
      summary: 'Partially update users',
      tags,
      body: Type.Ref(UpdateUsersPartialRequest),
      response: withErrors({ 200: Type.Ref(UpdateUsersResponse) }),
    },
    handler: async (request) => {
      const rows = await updateUsersPartialAs(as(request), request.body.users);
      return {
        users: Object.fromEntries(rows.map((row) => [row.id, fullUserV2(row)])),
        membership_deletion_task_id: '',
      };
    },
  });

  app.route({
    method: 'GET',
    url: '/users',
    config: { access: ['user'] },
    schema: {
      operationId: 'QueryUsers',
      summary: 'Query users',
      tags,
      querystring: QueryUsersQuery,
      response: withErrors({ 200: Type.Ref(QueryUsersResponse) }),
    },
    handler: async (request) => {
      const rows = await queryUsersAs(as(request), parseQueryPayload(request.query.payload));
      return { users: rows.map(fullUserV2) };
    },
  });

  app.route({
    method: 'POST',
    url: '/guest',
    config: { access: ['user', 'anonymous'] },
    schema: {
      operationId: 'CreateGuest',
      summary: 'Create a guest user',
      tags,
      body: Type.Ref(CreateGuestRequest),
      response: withErrors({ 201: Type.Ref(CreateGuestResponse) }),
    },
    handler: async (request, reply) => {
      const { row, accessToken } = await createGuestAs(as(request), request.body.user);
      reply.code(201);
      return { user: userV2(row), access_token: accessToken };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/block',
    config: { access: ['user'] },
    schema: {
      operationId: 'BlockUsers',
      summary: 'Block a user',
      tags,
      body: Type.Ref(BlockUsersRequest),
      response: withErrors({ 201: Type.Ref(BlockUsersResponse) }),
    },
    handler: async (request, reply) => {
      const { blocked_user_id, user_id, user } = request.body;
      const block = await blockUserAs(as(request), blocked_user_id, user_id ?? user?.id);
      reply.code(201);
      return { ...block, created_at: microsToNanos(block.created_at) };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/unblock',
    config: { access: ['user'] },
    schema: {
      operationId: 'UnblockUsers',
      summary: 'Unblock a user',
      tags,
      body: Type.Ref(UnblockUsersRequest),
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
    config: { access: ['user'] },
    schema: {
      operationId: 'GetBlockedUsers',
      summary: 'List the users a user blocks',
      tags,
      querystring: GetBlockedUsersQuery,
      response: withErrors({ 200: Type.Ref(GetBlockedUsersResponse) }),
    },
    handler: async (request) => {
      const blocks = await getBlockedUsersAs(as(request), request.query.user_id);
      return {
        blocks: blocks.map((block) => ({
          user_id: block.user_id,
          blocked_user_id: block.blocked_user_id,
          created_at: microsToNanos(block.created_at),
          user: userV2(block.user),
          blocked_user: userV2(block.blocked_user),
        })),
      };
    },
  });
};
