// Schemas of deactivation, reactivation, deletion, restore and export.
import { Type } from '@sinclair/typebox';
import { MAX_USERS_PER_EXPORT, MAX_USERS_PER_REQUEST } from '../limits.js';
import { Duration, JsonObject, StringEnum, named, type Family } from '../http/schemas.js';
import { UserId, V1, V2 } from '../users/schemas.js';

const UserIds = (max: number) => Type.Array(UserId, { minItems: 1, maxItems: max });

export const DeactivateUserRequest = Type.Object(
  { created_by_id: Type.Optional(UserId), mark_messages_deleted: Type.Optional(Type.Boolean()) },
  { $id: 'DeactivateUserRequest', title: 'DeactivateUserRequest' },
);
export const DeactivateUsersRequest = Type.Object(
  {
    user_ids: UserIds(MAX_USERS_PER_REQUEST),
    created_by_id: Type.Optional(UserId),
    mark_channels_deleted: Type.Optional(Type.Boolean()),
    mark_messages_deleted: Type.Optional(Type.Boolean()),
  },
  { $id: 'DeactivateUsersRequest', title: 'DeactivateUsersRequest' },
);
export const ReactivateUserRequest = Type.Object(
  { created_by_id: Type.Optional(UserId), name: Type.Optional(Type.String()), restore_messages: Type.Optional(Type.Boolean()) },
  { $id: 'ReactivateUserRequest', title: 'ReactivateUserRequest' },
);
export const ReactivateUsersRequest = Type.Object(
  {
    user_ids: UserIds(MAX_USERS_PER_REQUEST),
    created_by_id: Type.Optional(UserId),
    restore_channels: Type.Optional(Type.Boolean()),
    restore_messages: Type.Optional(Type.Boolean()),
  },
  { $id: 'ReactivateUsersRequest', title: 'ReactivateUsersRequest' },
);
export const DeleteUsersRequest = Type.Object(
  {
    user_ids: UserIds(MAX_USERS_PER_REQUEST),
    user: Type.Optional(StringEnum(['soft', 'pruning', 'hard'])),
    messages: Type.Optional(StringEnum(['soft', 'pruning', 'hard'])),
    conversations: Type.Optional(StringEnum(['soft', 'hard'])),
    calls: Type.Optional(StringEnum(['soft', 'hard'])),
    files: Type.Optional(Type.Boolean()),
    new_channel_owner_id: Type.Optional(Type.String()),
    new_call_owner_id: Type.Optional(Type.String()),
  },
  { $id: 'DeleteUsersRequest', title: 'DeleteUsersRequest' },
);
export const RestoreUsersRequest = Type.Object({ user_ids: UserIds(MAX_USERS_PER_REQUEST) }, { $id: 'RestoreUsersRequest', title: 'RestoreUsersRequest' });
export const ExportUsersRequest = Type.Object({ user_ids: UserIds(MAX_USERS_PER_EXPORT) }, { $id: 'ExportUsersRequest', title: 'ExportUsersRequest' });

export const TaskIdResponse = Type.Object({ task_id: Type.String(), duration: Duration }, { $id: 'TaskIdResponse', title: 'TaskIdResponse' });

export function lifecycleCarriers(family: Family) {
  return {
    UserResultResponse: named(family, 'UserResultResponse', { user: Type.Optional(family.user), duration: Duration }),
    ExportUserResponse: named(family, 'ExportUserResponse', {
      user: Type.Optional(family.user),
      messages: Type.Optional(Type.Array(JsonObject)),
      reactions: Type.Optional(Type.Array(JsonObject)),
      duration: Duration,
    }),
  };
}

const v2Carriers = lifecycleCarriers(V2);
export const { UserResultResponse, ExportUserResponse } = v2Carriers;

export const lifecycleSchemas = [
  DeactivateUserRequest,
  DeactivateUsersRequest,
  ReactivateUserRequest,
  ReactivateUsersRequest,
  DeleteUsersRequest,
  RestoreUsersRequest,
  ExportUsersRequest,
  TaskIdResponse,
  ...Object.values(v2Carriers),
];
export const lifecycleSchemasV1 = Object.values(lifecycleCarriers(V1));
