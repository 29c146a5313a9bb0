import { Type } from '@sinclair/typebox';
// Schemas of GET tasks/{id}: the response is made for each family (date-times and the users in results differ).
import { Duration, JsonObject, StringMap, named, type Family } from '../http/schemas.js';
import { V1, V2 } from '../users/schemas.js';

export const TaskStatusSchema = Type.Union(
  ['waiting', 'pending', 'running', 'completed', 'failed'].map((status) => Type.Literal(status)),
);

export const ErrorResult = Type.Object(
  {
    type: Type.String(),
    description: Type.String(),
    stacktrace: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
  },
  { $id: 'ErrorResult', title: 'ErrorResult' },
);

export function tasksCarriers(family: Family) {
  return {
    GetTaskResponse: named(family, 'GetTaskResponse', {
      task_id: Type.String({ format: 'uuid' }),
      status: TaskStatusSchema,
      created_at: family.time,
      updated_at: family.time,
      result: Type.Optional(
        family.suffix === 'V1' ? StringMap(Type.Unknown(), { description: 'users in it are in the v1 shape' }) : JsonObject,
      ),
      error: Type.Optional(Type.Ref(ErrorResult)),
      duration: Duration,
    }),
  };
}

export const { GetTaskResponse } = tasksCarriers(V2);
export const tasksSchemas = [ErrorResult, GetTaskResponse];
export const tasksSchemasV1 = Object.values(tasksCarriers(V1));
