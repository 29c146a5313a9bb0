// The frames the server sends on a connection: health.check events (the first one carries `me`) and the error
// frame of a rejected connection, in Stream's error envelope.
import type { UserRow } from '../db/schema.js';
import { microsToRfc3339, nowMicros } from '../db/timestamps.js';
import { envelopeOf } from '../http/envelope.js';
import type { StreamError } from '../http/errors.js';
import { fullUserV1, type UserV1 } from '../users/representation.js';

function now(): string {
  return microsToRfc3339(nowMicros());
}

/**
 * A health.check event. The first one of a connection carries `me`, which stream-chat copies into `client.user`
 * (reading `mutes`, `channel_mutes` and `blocked_user_ids` from it); the answers to pings do not, so that they never
 * overwrite the client's user with an older copy.
 */
export function healthCheck(connectionId: string, me?: UserV1): string {
  return JSON.stringify({
    type: 'health.check',
    connection_id: connectionId,
    cid: '*',
    ...(me ? { me } : {}),
    created_at: now(),
  });
}

/** `me` of a user connection: the stored user as the v1 own-user shape, online since it is connected. */
export function ownUser(row: UserRow): UserV1 {
  return fullUserV1({ ...row, online: true });
}

/** `me` of an anonymous connection, built in memory: the anonymous user is never stored. */
export function anonymousUser(): UserV1 {
  const at = nowMicros();
  return ownUser({
    id: '!anon',
    name: null,
    image: null,
    role: 'anonymous',
    language: '',
    teams: [],
    teams_role: null,
    invisible: false,
    privacy_settings: null,
    custom: {},
    banned: false,
    shadow_banned: false,
    bypass_moderation: false,
    ban_expires: null,
    created_at: at,
    updated_at: at,
    last_active: null,
    deactivated_at: null,
    deleted_at: null,
    deletion: null,
    deactivation: null,
    deletion_applied: null,
    revoke_tokens_issued_before: null,
    blocked_user_ids: [],
  });
}

/**
 * The first and only frame of a rejected connection. stream-chat rejects `connectUser` at once with the code of an
 * `{error}` first frame (StableWSConnection.onmessage → `isWSFailure: false`), instead of retrying.
 */
export function errorFrame(error: StreamError, startedAt: bigint): string {
  return JSON.stringify({ error: envelopeOf('Connect', error, startedAt) });
}
