// Turns a stored user into the v2 wire shape: custom data nested under `custom`, date-times as integer nanoseconds,
// unset optional fields omitted. (The v1 shape used by stream-chat flattens custom data and writes RFC3339.)
import type { Selectable } from 'kysely';
import type { JsonObject, Micros, UsersTable } from '../db/schema.js';
import { microsToNanos } from '../db/timestamps.js';

/** A user row as the service reads it: the table's columns plus the ids it blocks and presence. */
export type UserRow = Selectable<UsersTable> & { blocked_user_ids: string[]; online?: boolean };

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

const nanos = (value: Micros | null) => (value === null ? undefined : microsToNanos(value));

export function userV2(row: UserRow): UserV2 {
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
    blocked_user_ids: row.blocked_user_ids,
  };
  if (row.name !== null) user.name = row.name;
  if (row.image !== null) user.image = row.image;
  if (row.teams_role !== null) user.teams_role = row.teams_role;
  if (row.privacy_settings !== null) user.privacy_settings = row.privacy_settings;
  const optionalTimes = {
    last_active: nanos(row.last_active),
    deactivated_at: nanos(row.deactivated_at),
    deleted_at: nanos(row.deleted_at),
    ban_expires: nanos(row.ban_expires),
    revoke_tokens_issued_before: nanos(row.revoke_tokens_issued_before),
  };
  for (const [key, value] of Object.entries(optionalTimes)) {
    if (value !== undefined) (user as unknown as Record<string, unknown>)[key] = value;
  }
  return user;
}

/** The chat-side fields of a full user, which this server holds none of: empty in both representations. */
export function withEmptyChatFields<T extends object>(user: T) {
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

export function fullUserV2(row: UserRow): FullUserV2 {
  return withEmptyChatFields(userV2(row));
}
