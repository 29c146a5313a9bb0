// Wire-level schema pieces shared by every capability.
import { Type, type TSchema } from '@sinclair/typebox';

/**
 * A date-time written as integer nanoseconds since the epoch. The value is a BigInt, which Fastify's serializer
 * writes exactly (no float rounding) for an integer-typed field.
 */
export const Nanos = Type.Unsafe<bigint>({ type: 'integer', format: 'int64', description: 'nanoseconds since the Unix epoch' });

/** Every Stream response carries a `duration` string, added by the envelope. */
export const Duration = Type.String({ description: 'time the server spent on the request, e.g. "1.23ms"' });

export const JsonObject = Type.Record(Type.String(), Type.Unknown());

export const ErrorEnvelope = Type.Object(
  {
    code: Type.Integer(),
    message: Type.String(),
    exception_fields: Type.Optional(Type.Record(Type.String(), Type.String())),
    StatusCode: Type.Integer(),
    duration: Type.String(),
    more_info: Type.String(),
    details: Type.Array(Type.Integer()),
    unrecoverable: Type.Optional(Type.Boolean()),
  },
  { $id: 'APIError', title: 'APIError' },
);

/** Adds the shared error responses to a route's success responses. */
export function withErrors<T extends Record<number, TSchema>>(success: T) {
  return {
    ...success,
    '4xx': Type.Ref('APIError'),
    '5xx': Type.Ref('APIError'),
  };
}

export const ApiKeyQuery = Type.Object({ api_key: Type.Optional(Type.String()) });

/** A string enum written as JSON Schema `enum` (clearer validation messages and OpenAPI than a union of literals). */
export function StringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}
