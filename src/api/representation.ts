// The two representations of Stream's API. Every operation is written once (operations.ts) and rendered through each:
//   v2 (/api/v2, node-sdk): custom data nested under `custom`, date-times as integer nanoseconds;
//   v1 (no prefix, stream-chat): custom data flattened to the top level, date-times as RFC3339 with microseconds.
// A representation turns request bodies into service input and service output into response bodies, and names the
// schemas its routes validate with (v1 twins are named <X>V1 where their shape differs).
import type { Micros, UserRow } from '../db/schema.js';
import { microsToNanos, microsToRfc3339 } from '../db/timestamps.js';
import { isPlainObject, parseJsonExact, toJsonText } from '../lib/json.js';
import type { TaskRepresentation } from '../tasks/service.js';
import { taskTypeEntry } from '../tasks/table.js';
import { fullUserV1, fullUserV2, userRequestFromV1, userV1, userV1FromV2, userV2 } from '../users/representation.js';
import type { UserRequest } from '../users/schemas.js';
import type { Block } from '../users/service.js';
import { v1Schemas } from './schemas-v1.js';

export interface Representation extends TaskRepresentation {
  family: 'v2' | 'v1';
  /** The id of the schema this family validates or serializes a component with. */
  schemaId(id: string): string;
  time(micros: Micros): bigint | string;
  /** UserResponse: a single user (deactivate, guest, export, blocks). `asOther`: as another user sees it (seesAsOther). */
  user(row: UserRow, asOther?: boolean): object;
  /** FullUserResponse: users of upsert, partial update and query. */
  fullUser(row: UserRow, asOther?: boolean): object;
  /** A user of a request body, as the service reads it. */
  userRequest(user: unknown): UserRequest;
  block(block: Block): object;
}

export const v2: Representation = {
  family: 'v2',
  schemaId: (id) => id,
  time: microsToNanos,
  user: userV2,
  fullUser: fullUserV2,
  userRequest: (user) => user as UserRequest,
  block: (block) => ({ ...block, created_at: microsToNanos(block.created_at) }),
  // The stored result is written in the v2 shape already.
  result: (_type, text) => text,
};

const V1_TWINS = new Set(v1Schemas.map((schema) => schema.$id!.replace(/V1$/, '')));


export const v1: Representation = {
  family: 'v1',
  schemaId: (id) => (V1_TWINS.has(id) ? `${id}V1` : id),
  time: microsToRfc3339,
  user: userV1,
  fullUser: fullUserV1,
  userRequest: (user) => userRequestFromV1(user as Record<string, unknown>),
  block(block) {
    // stream-chat types the block by `blocked_at`, the spec by `created_at`: both are sent.
    const createdAt = microsToRfc3339(block.created_at);
    return { blocked_by_user_id: block.blocked_by_user_id, blocked_user_id: block.blocked_user_id, created_at: createdAt, blocked_at: createdAt };
  },
  result(type, text) {
    // Results that hold users are written in the v2 shape by their runners (the task table says which).
    if (taskTypeEntry(type)?.result !== 'users') return text;
    const result = parseJsonExact(text);
    if (isPlainObject(result) && Array.isArray(result.users)) {
      result.users = result.users.map((user) => (isPlainObject(user) ? userV1FromV2(user) : user));
    }
    return toJsonText(result);
  },
};
