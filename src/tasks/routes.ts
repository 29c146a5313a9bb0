// GET /api/v2/tasks/{id}: the state of an asynchronous task, as clients poll it. The v1 twin (GET /tasks/{id},
// src/v1/routes.ts) writes the same body through another representation.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database, Micros } from '../db/schema.js';
import { microsToNanos } from '../db/timestamps.js';
import { formatDuration } from '../http/envelope.js';
import { notFound } from '../http/errors.js';
import { toJsonText } from '../http/json.js';
import { withErrors } from '../http/schemas.js';
import { signedExportUrl } from '../users/export.js';
import { findTask } from './queue.js';
import { GetTaskResponse } from './schemas.js';

export interface TasksRoutesOptions {
  db: Kysely<Database>;
  apiSecret: () => string;
  publicUrl?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function baseUrlOf(request: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}

/** How a path family writes a task: its date-times, and its stored result (JSON text whose dates are integer ns). */
export interface TaskRepresentation {
  time(micros: Micros): unknown;
  result(type: string, text: string): string;
}

/** v2: integer nanoseconds, the stored result as it is. */
export const taskV2: TaskRepresentation = { time: microsToNanos, result: (_type, text) => text };

/**
 * The JSON body of GET tasks/{id}. Written by hand rather than by the schema serializer: the stored result is JSON
 * text whose nanosecond integers must reach the client exactly, which a parse into JS numbers would round.
 */
export async function taskResponseText(
  request: FastifyRequest,
  id: string,
  options: TasksRoutesOptions,
  representation: TaskRepresentation = taskV2,
): Promise<string> {
  const { db, apiSecret, publicUrl } = options;
  const task = UUID.test(id) ? await findTask(db, id) : undefined;
  if (!task) throw notFound(`task "${id}" does not exist`);

  let resultText = task.result_text;
  if (task.type === 'ExportUsers' && task.status === 'completed' && resultText) {
    const { export_id } = JSON.parse(resultText) as { export_id: string };
    const url = await signedExportUrl(db, apiSecret(), baseUrlOf(request, publicUrl), export_id);
    resultText = JSON.stringify(url ? { url } : { description: 'the export file has expired' });
  }
  if (resultText) resultText = representation.result(task.type, resultText);
  const head = toJsonText({
    task_id: task.id,
    status: task.status,
    created_at: representation.time(task.created_at),
    updated_at: representation.time(task.updated_at),
    ...(task.error ? { error: task.error } : {}),
  });
  return `${head.slice(0, -1)}${resultText ? `,"result":${resultText}` : ''},"duration":${JSON.stringify(formatDuration(request.startedAt))}}`;
}

export const tasksRoutes: FastifyPluginAsyncTypebox<TasksRoutesOptions> = async (app, options) => {
  app.route({
    method: 'GET',
    url: '/tasks/:id',
    schema: {
      operationId: 'GetTask',
      summary: 'Get the status of an asynchronous task',
      tags: ['tasks'],
      params: Type.Object({ id: Type.String() }),
      response: withErrors({ 200: Type.Ref(GetTaskResponse) }),
    },
    handler: async (request, reply) => {
      const body = await taskResponseText(request, request.params.id, options);
      return reply.type('application/json; charset=utf-8').send(body);
    },
  });
};
