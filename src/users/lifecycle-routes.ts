// Deactivate, reactivate, delete, restore and export. Bulk operations answer with a task id at once; GET
// /api/v2/tasks/{id} reports their progress.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { withErrors } from '../http/schemas.js';
import { exportUser } from './export.js';
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
} from './lifecycle.js';
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
} from './lifecycle-schemas.js';
import { userV2 } from './representation.js';
import { DurationResponse } from './schemas.js';

export interface LifecycleRoutesOptions {
  db: Kysely<Database>;
  tasks: TaskSettings;
}

const tags = ['users'];
const UserIdParams = Type.Object({ user_id: Type.String() });

export const lifecycleRoutes: FastifyPluginAsyncTypebox<LifecycleRoutesOptions> = async (app, { db, tasks }) => {
  app.route({
    method: 'POST',
    url: '/users/:user_id/deactivate',
    schema: {
      operationId: 'DeactivateUser',
      summary: 'Deactivate a user',
      tags,
      params: UserIdParams,
      body: Type.Optional(Type.Ref(DeactivateUserRequest)),
      response: withErrors({ 201: Type.Ref(UserResultResponse) }),
    },
    handler: async (request, reply) => {
      const row = await db.transaction().execute((trx) => deactivateUser(trx, request.params.user_id, request.body ?? {}));
      reply.code(201);
      return { user: userV2(row) };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/:user_id/reactivate',
    schema: {
      operationId: 'ReactivateUser',
      summary: 'Reactivate a user',
      tags,
      params: UserIdParams,
      body: Type.Optional(Type.Ref(ReactivateUserRequest)),
      response: withErrors({ 201: Type.Ref(UserResultResponse) }),
    },
    handler: async (request, reply) => {
      const row = await db.transaction().execute((trx) => reactivateUser(trx, request.params.user_id, request.body ?? {}));
      reply.code(201);
      return { user: userV2(row) };
    },
  });

  app.route({
    method: 'POST',
    url: '/users/deactivate',
    schema: {
      operationId: 'DeactivateUsers',
      summary: 'Deactivate users in bulk (asynchronous)',
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
    schema: {
      operationId: 'ReactivateUsers',
      summary: 'Reactivate users in bulk (asynchronous)',
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
    schema: {
      operationId: 'DeleteUsers',
      summary: 'Delete users (asynchronous)',
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
    method: 'POST',
    url: '/users/restore',
    schema: {
      operationId: 'RestoreUsers',
      summary: 'Restore soft-deleted users',
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
    method: 'POST',
    url: '/export/users',
    schema: {
      operationId: 'ExportUsers',
      summary: 'Export users (asynchronous)',
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
    url: '/users/:user_id/export',
    schema: {
      operationId: 'ExportUser',
      summary: "Export a user's data",
      tags,
      params: UserIdParams,
      response: withErrors({ 200: Type.Ref(ExportUserResponse) }),
    },
    handler: async (request) => exportUser(db, request.params.user_id),
  });
};
