// The v1 wire shape that `stream-chat` speaks: custom data flattened to the top level of the user and date-times as
// RFC3339 strings with microseconds. Requests arrive flattened the same way and become the service's UserRequest.
import { microsToRfc3339 } from '../db/timestamps.js';
import { withEmptyChatFields, type UserRow } from '../users/representation.js';
import type { UserRequest } from '../users/schemas.js';
import { RESERVED_FIELDS } from '../users/validation.js';

export type UserV1 = Record<string, unknown> & { id: string };

const rfc3339 = (value: bigint | null) => (value === null ? undefined : microsToRfc3339(value));

export function userV1(row: UserRow): UserV1 {
  const user: UserV1 = { ...row.custom, id: row.id };
  if (row.name !== null) user.name = row.name;
  if (row.image !== null) user.image = row.image;
  user.role = row.role;
  user.language = row.language;
  user.teams = row.teams;
  if (row.teams_role !== null) user.teams_role = row.teams_role;
  user.created_at = microsToRfc3339(row.created_at);
  user.updated_at = microsToRfc3339(row.updated_at);
  const optional = {
    last_active: rfc3339(row.last_active),
    deactivated_at: rfc3339(row.deactivated_at),
    deleted_at: rfc3339(row.deleted_at),
    ban_expires: rfc3339(row.ban_expires),
    revoke_tokens_issued_before: rfc3339(row.revoke_tokens_issued_before),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) user[key] = value;
  user.banned = row.banned;
  user.online = row.online ?? false;
  user.invisible = row.invisible;
  user.shadow_banned = row.shadow_banned;
  user.blocked_user_ids = row.blocked_user_ids;
  if (row.privacy_settings !== null) user.privacy_settings = row.privacy_settings;
  return user;
}

/** The v1 twin of FullUserResponse (upsert, partial update, query; and `me` of a WebSocket health.check). */
export function fullUserV1(row: UserRow): UserV1 {
  return withEmptyChatFields(userV1(row));
}

const V2_TIME_FIELDS = ['created_at', 'updated_at', 'last_active', 'deactivated_at', 'deleted_at', 'ban_expires', 'revoke_tokens_issued_before'];

/** A v2 date-time (integer nanoseconds, a BigInt when read exactly) as v1 RFC3339 with microseconds. */
export function nanosToRfc3339(value: bigint | number): string {
  const nanos = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
  // Floor division, so that dates before 1970 keep their microsecond.
  const micros = nanos >= 0n ? nanos / 1000n : -((-nanos + 999n) / 1000n);
  return microsToRfc3339(micros);
}

/**
 * A user already written in the v2 shape (a stored task result, an export) rewritten in the v1 shape: the same
 * object userV1 makes of the row — custom data flattened under the built-in fields, date-times as RFC3339.
 */
export function userV1FromV2(v2: Record<string, unknown>): UserV1 {
  const { custom, bypass_moderation: _bypass, ...fields } = v2;
  const user: Record<string, unknown> = { ...(custom as Record<string, unknown> | undefined) };
  for (const [key, value] of Object.entries(fields)) {
    user[key] = V2_TIME_FIELDS.includes(key) && (typeof value === 'bigint' || typeof value === 'number') ? nanosToRfc3339(value) : value;
  }
  return user as UserV1;
}

const REQUEST_FIELDS = ['id', 'name', 'image', 'role', 'teams', 'teams_role', 'language', 'invisible', 'privacy_settings'] as const;

/** A flattened v1 user: built-in fields are read as such, any other non-reserved key is custom data. */
export function userRequestFromV1(input: Record<string, unknown>): UserRequest {
  const request: Record<string, unknown> = {};
  const custom: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if ((REQUEST_FIELDS as readonly string[]).includes(key)) {
      if (value !== null || key === 'teams') request[key] = value;
    } else if (!RESERVED_FIELDS.has(key)) {
      custom[key] = value;
    }
  }
  request.custom = custom;
  return request as unknown as UserRequest;
}
