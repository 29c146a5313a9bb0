// The bodies of user events, as Stream sends them (reference §8): `type`, `created_at` (RFC3339), `user`, `custom: {}`,
// and the type's own fields. The user is in the v1 representation (custom fields flattened, RFC3339 date-times), the
// state after the change; for a hard deletion, the last state before it. There is no user.created: a new user is a
// user.updated.
import type { UserRow } from '../db/schema.js';
import { microsToRfc3339, nowMicros } from '../db/timestamps.js';
import { userV1 } from '../users/representation.js';

export type UserEventType = 'user.updated' | 'user.deactivated' | 'user.reactivated' | 'user.deleted';

export interface UserEvent {
  type: UserEventType;
  userId: string;
  /** The body's JSON text: exactly the bytes that are signed and sent, on every attempt. */
  body: string;
  /** The body kept once the delivery has ended, when the one sent carries what must not stay (a hard deletion's user). */
  endedBody?: string;
}

function event(type: UserEventType, row: UserRow, fields: Record<string, unknown> = {}): UserEvent {
  const body = { type, created_at: microsToRfc3339(nowMicros()), user: userV1(row), ...fields, custom: {} };
  return { type, userId: row.id, body: JSON.stringify(body) };
}

export function userUpdated(row: UserRow): UserEvent {
  return event('user.updated', row);
}

/** user.deactivated or user.reactivated, with who did it when the call named them (`created_by` and its id). */
export function userActivation(type: 'user.deactivated' | 'user.reactivated', row: UserRow, createdBy: UserRow | undefined): UserEvent {
  return event(type, row, createdBy ? { created_by: userV1(createdBy), created_by_id: createdBy.id } : {});
}

export interface AppliedDeletion {
  user: 'soft' | 'pruning' | 'hard';
  messages?: string;
  conversations?: string;
}

/**
 * user.deleted carries the user as Stream's does. After a hard deletion, once its delivery has ended (delivered, failed
 * or cancelled), the stored body keeps the user's id alone.
 */
export function userDeleted(row: UserRow, deletion: AppliedDeletion): UserEvent {
  const fields = {
    delete_user: deletion.user,
    delete_messages: deletion.messages ?? '',
    delete_conversation: deletion.conversations ?? '',
    hard_delete: deletion.user === 'hard',
    mark_messages_deleted: deletion.messages === 'soft',
    delete_conversation_channels: deletion.conversations !== undefined,
  };
  const sent = event('user.deleted', row, fields);
  if (deletion.user !== 'hard') return sent;
  const { created_at } = JSON.parse(sent.body) as { created_at: string };
  return { ...sent, endedBody: JSON.stringify({ type: 'user.deleted', created_at, user: { id: row.id }, ...fields, custom: {} }) };
}
