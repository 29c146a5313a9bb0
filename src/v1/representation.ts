// The v1 wire shape that `stream-chat` speaks: custom data flattened to the top level of the user and date-times as
// RFC3339 strings with microseconds. Requests arrive flattened the same way and become the service's UserRequest.
import { microsToRfc3339 } from '../db/timestamps.js';
import type { UserRow } from '../users/representation.js';
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

/** The user as the connecting client sees itself (`me` of a WebSocket health.check). */
export function ownUserV1(row: UserRow): UserV1 {
  const user = userV1(row);
  user.devices = [];
  user.mutes = [];
  user.channel_mutes = [];
  user.unread_count = 0;
  user.total_unread_count = 0;
  user.unread_channels = 0;
  user.unread_threads = 0;
  return user;
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
