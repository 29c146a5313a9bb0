// Stream's limits and rules on user data (reference §5).
import type { UserRow } from '../db/schema.js';
import { inputError } from '../http/errors.js';
import { isPlainObject } from '../lib/json.js';
import { MAX_USERS_PER_REQUEST } from '../limits.js';

export const MAX_USER_BYTES = 5 * 1024;
const USER_ID = /^[@\w-]{1,255}$/;

/** Built-in field names: never custom fields (reference §2.4). */
export const RESERVED_FIELDS = new Set([
  'id', 'name', 'image', 'role', 'teams', 'teams_role', 'language', 'invisible', 'privacy_settings',
  'push_notifications', 'created_at', 'updated_at', 'last_active', 'deactivated_at', 'deleted_at', 'online',
  'banned', 'ban_expires', 'shadow_banned', 'revoke_tokens_issued_before', 'blocked_user_ids', 'devices', 'mutes',
  'channel_mutes', 'unread_count', 'total_unread_count', 'unread_channels', 'unread_threads',
  'latest_hidden_channels', 'avg_response_time', 'bypass_moderation', 'custom',
]);

export function isValidUserId(id: unknown): id is string {
  return typeof id === 'string' && USER_ID.test(id);
}

export function checkUserId(id: unknown, what = 'user id'): string {
  if (!isValidUserId(id)) {
    throw inputError(
      `${what} ${JSON.stringify(id)} is invalid: it must be 1 to 255 characters of letters, digits, "@", "_" or "-"`,
    );
  }
  return id;
}

export function checkBatchSize(count: number) {
  if (count === 0) throw inputError('users is a required field and must contain at least one user');
  if (count > MAX_USERS_PER_REQUEST) throw inputError(`too many users in one request: ${count}, the maximum is ${MAX_USERS_PER_REQUEST}`);
}

/** The size rule applies to what the user holds: built-in fields and custom data, as JSON. Returns that JSON. */
export function checkUserSize(user: { id: string; [field: string]: unknown } | { id: string }): string {
  const json = JSON.stringify(user);
  // Byte length only matters near the limit: a string of n UTF-16 units is at most 3n UTF-8 bytes.
  const bytes = json.length * 3 <= MAX_USER_BYTES ? json.length : Buffer.byteLength(json);
  if (bytes > MAX_USER_BYTES) {
    throw inputError(`user "${user.id}" is too large: ${bytes} bytes, the maximum is ${MAX_USER_BYTES} bytes`);
  }
  return json;
}

/** The settings a privacy_settings object may hold, each {enabled: boolean}. */
export const PRIVACY_KEYS: ReadonlySet<string> = new Set(['typing_indicators', 'read_receipts', 'delivery_receipts']);

/**
 * What a partial update leaves in the JSON columns with a fixed shape must still have it (the merge and the dotted
 * paths run in SQL, so this checks the result): each privacy setting {enabled: boolean}, teams_role team → role.
 */
export function checkStoredShape(row: UserRow) {
  if (row.privacy_settings !== null) {
    for (const key of PRIVACY_KEYS) {
      const setting = row.privacy_settings[key];
      if (setting !== undefined && !(isPlainObject(setting) && typeof setting.enabled === 'boolean')) {
        throw inputError(`privacy_settings.${key} must be an object {"enabled": true or false}`);
      }
    }
  }
  if (row.teams_role !== null && Object.values(row.teams_role).some((role) => typeof role !== 'string')) {
    throw inputError('teams_role must map each team to a role string');
  }
}

/** The size rule on a stored row: what the user holds, as a partial update left it. */
export function checkStoredSize(row: UserRow) {
  checkUserSize({
    id: row.id, name: row.name, image: row.image, role: row.role, teams: row.teams, teams_role: row.teams_role,
    language: row.language, invisible: row.invisible, privacy_settings: row.privacy_settings, custom: row.custom,
  });
}
