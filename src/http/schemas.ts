// Wire-level schema pieces shared by every capability.
import { Type, type ObjectOptions, type TProperties, type TRecord, type TSchema, type TString } from '@sinclair/typebox';

/**
 * A date-time written as integer nanoseconds since the epoch. The value is a BigInt, which Fastify's serializer
 * writes exactly (no float rounding) for an integer-typed field.
 */
export const Nanos = Type.Unsafe<bigint>({ type: 'integer', format: 'int64', description: 'nanoseconds since the Unix epoch' });

/** Every Stream response carries a `duration` string, added by the envelope. */
export const Duration = Type.String({ description: 'time the server spent on the request, e.g. "1.23ms"' });

/**
 * An object with any keys, each holding `value`. Written as `additionalProperties`, not as TypeBox's Record: a Record's
 * `patternProperties: {"^(.*)$"}` does not apply to a key holding a line break (`.` matches none), so such a key
 * would escape validation.
 */
export function StringMap<T extends TSchema>(value: T, options: ObjectOptions = {}): TRecord<TString, T> {
  // Typed as the Record it is (its static type is Record<string, …>); built as an object with additionalProperties.
  return Type.Object({}, { ...options, additionalProperties: value }) as unknown as TRecord<TString, T>;
}

export const JsonObject = StringMap(Type.Unknown());

export const ErrorEnvelope = Type.Object(
  {
    code: Type.Integer(),
    message: Type.String(),
    exception_fields: Type.Optional(StringMap(Type.String())),
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

/** A string enum written as JSON Schema `enum` (clearer validation messages and OpenAPI than a union of literals). */
export function StringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

/** A v1 date-time: RFC3339 with microseconds, e.g. 2020-03-30T07:54:46.207332Z. */
export const DateTimeV1 = Type.String({ format: 'date-time', description: 'RFC3339 with microseconds, e.g. 2020-03-30T07:54:46.207332Z' });

/**
 * What the schemas of one path family are made of (api/representation.ts): v2 writes date-times as integer
 * nanoseconds and nests custom data, v1 writes RFC3339 and flattens it. A schema that carries users or date-times is
 * declared once, as a function of the family, and made twice; the v1 one is named with the suffix V1.
 */
export interface Family<Request extends TSchema = TSchema, User extends TSchema = TSchema, FullUser extends TSchema = TSchema> {
  suffix: '' | 'V1';
  time: TSchema;
  userRequest: Request;
  user: User;
  fullUser: FullUser;
}

/** An object schema of a family, named `<name><suffix>` ($id and title). */
export function named<P extends TProperties>(family: Pick<Family, 'suffix'>, name: string, properties: P, options: ObjectOptions = {}) {
  const id = `${name}${family.suffix}`;
  return Type.Object(properties, { $id: id, title: id, ...options });
}
