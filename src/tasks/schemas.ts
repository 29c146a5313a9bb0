import { Type } from '@sinclair/typebox';
import { Duration, JsonObject, Nanos } from '../http/schemas.js';

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

export const GetTaskResponse = Type.Object(
  {
    task_id: Type.String({ format: 'uuid' }),
    status: TaskStatusSchema,
    created_at: Nanos,
    updated_at: Nanos,
    result: Type.Optional(JsonObject),
    error: Type.Optional(Type.Ref(ErrorResult)),
    duration: Duration,
  },
  { $id: 'GetTaskResponse', title: 'GetTaskResponse' },
);

export const tasksSchemas = [ErrorResult, GetTaskResponse];
