// A stored user in its two wire shapes. v2 (/api/v2, node-sdk): custom data nested under `custom`, date-times as
// integer nanoseconds. v1 (stream-chat): custom data flattened to the top level, date-times as RFC3339 strings with
// microseconds. Unset optional fields are omitted in both. v1 requests arrive flattened the same way and are read
// into the service's UserRequest here.
import type { JsonObject, UserRow } from '../db/schema.js';
import { microsToNanos, microsToRfc3339 } from '../db/timestamps.js';
import type { UserRequest } from './schemas.js';
import { RESERVED_FIELDS } from './validation.js';

export interface UserV2 {
  id: string;
  name?: string;
  image?: string;
  role: string;
  language: string;
  teams: string[];
  teams_role?: Record<string, string>;
  custom: JsonObject;
  created_at: bigint;
  updated_at: bigint;
  last_active?: bigint;
  deactivated_at?: bigint;
  deleted_at?: bigint;
  ban_expires?: bigint;
  revoke_tokens_issued_before?: bigint;
  banned: boolean;
  online: boolean;
  invisible: boolean;
  shadow_banned: boolean;
  bypass_moderation: boolean;
  blocked_user_ids: string[];
  privacy_settings?: JsonObject;
}

export interface FullUserV2 extends UserV2 {
  devices: JsonObject[];
  mutes: JsonObject[];
  channel_mutes: JsonObject[];
  unread_count: number;
  total_unread_count: number;
  unread_channels: number;
  unread_threads: number;
}


/**
 * `asOther`: the user as another user's token sees it (README "What a user token may do"): without who it blocks, its
 * token cut-off and its privacy settings. v2 keeps `blocked_user_ids` as `[]`, since node-sdk's types require the field.
 */
export function userV2(row: UserRow, asOther = false): UserV2 {
  const user: UserV2 = {
    id: row.id,
    role: row.role,
    language: row.language,
    teams: row.teams,
    custom: row.custom,
    created_at: microsToNanos(row.created_at),
    updated_at: microsToNanos(row.updated_at),
    banned: row.banned,
    online: row.online ?? false,
    invisible: row.invisible,
    shadow_banned: row.shadow_banned,
    bypass_moderation: row.bypass_moderation,
    blocked_user_ids: asOther ? [] : row.blocked_user_ids,
  };
  if (row.name !== null) user.name = row.name;
  if (row.image !== null) user.image = row.image;
  if (row.teams_role !== null) user.teams_role = row.teams_role;
  if (row.privacy_settings !== null && !asOther) user.privacy_settings = row.privacy_settings;
  // One by one, in this order (no intermediate object: query responses build users by the hundred).
  if (row.last_active !== null) user.last_active = microsToNanos(row.last_active);
  if (row.deactivated_at !== null) user.deactivated_at = microsToNanos(row.deactivated_at);
  if (row.deleted_at !== null) user.deleted_at = microsToNanos(row.deleted_at);
  if (row.ban_expires !== null) user.ban_expires = microsToNanos(row.ban_expires);
  if (row.revoke_tokens_issued_before !== null && !asOther) user.revoke_tokens_issued_before = microsToNanos(row.revoke_tokens_issued_before);
  return user;
}

/** The chat-side fields of a full user, which this server holds none of: empty in both representations. */
function withEmptyChatFields<T extends object>(user: T) {
  // Assigned in place: a spread here was the hottest line of an upsert.
  return Object.assign(user, {
    devices: [],
    mutes: [],
    channel_mutes: [],
    unread_count: 0,
    total_unread_count: 0,
    unread_channels: 0,
    unread_threads: 0,
  });
}

export function fullUserV2(row: UserRow, asOther = false): FullUserV2 {
  return withEmptyChatFields(userV2(row, asOther));
}

// --- v1 ---------------------------------------------------------------------------------------------------------------

export type UserV1 = Record<string, unknown> & { id: string };

const rfc3339 = (value: bigint | null) => (value === null ? undefined : microsToRfc3339(value));

/**
 * Custom data flattened to the top level, without the keys that are built-in field names: in the v1 view a built-in
 * field always wins, set or not, so that custom data can never pass for one (a spoofed `deactivated_at`).
 */
function flattenedCustom(custom: Record<string, unknown> | undefined): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(custom ?? {})) if (!RESERVED_FIELDS.has(key)) flat[key] = value;
  return flat;
}

/** `asOther`: as userV2's; v1 leaves `blocked_user_ids` out altogether for another user. */
export function userV1(row: UserRow, asOther = false): UserV1 {
  const user: UserV1 = { ...flattenedCustom(row.custom), id: row.id };
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
    revoke_tokens_issued_before: asOther ? undefined : rfc3339(row.revoke_tokens_issued_before),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) user[key] = value;
  user.banned = row.banned;
  user.online = row.online ?? false;
  user.invisible = row.invisible;
  user.shadow_banned = row.shadow_banned;
  if (!asOther) {
    user.blocked_user_ids = row.blocked_user_ids;
    if (row.privacy_settings !== null) user.privacy_settings = row.privacy_settings;
  }
  return user;
}

/** The v1 twin of FullUserResponse (upsert, partial update, query; and `me` of a WebSocket health.check). */
export function fullUserV1(row: UserRow, asOther = false): UserV1 {
  return withEmptyChatFields(userV1(row, asOther));
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
  const user: Record<string, unknown> = flattenedCustom(custom as Record<string, unknown> | undefined);
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
