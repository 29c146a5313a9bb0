// TypeBox schemas of the v1 paths (`stream-chat`): users with custom fields flattened to the top level (objects that
// allow additional properties, with typed built-ins) and date-times as RFC3339 strings. Requests whose shape is the
// same on both path families (partial update, lifecycle, app settings) reuse the v2 schemas.
import { Type, type TSchema } from '@sinclair/typebox';
import { Duration, JsonObject, StringEnum } from '../http/schemas.js';
import { TaskStatusSchema } from '../tasks/schemas.js';
import { PrivacySettings, UserId } from '../users/schemas.js';

/** A v1 date-time: RFC3339 with microseconds, e.g. 2020-03-30T07:54:46.207332Z. */
export const DateTimeV1 = Type.String({ format: 'date-time', description: 'RFC3339 with microseconds, e.g. 2020-03-30T07:54:46.207332Z' });

const nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

export const UserRequestV1 = Type.Object(
  {
    id: UserId,
    name: nullable(Type.String()),
    image: nullable(Type.String()),
    role: nullable(Type.String({ minLength: 1 })),
    teams: nullable(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 250 })),
    teams_role: nullable(Type.Record(Type.String(), Type.String())),
    language: nullable(Type.String()),
    invisible: nullable(Type.Boolean()),
    privacy_settings: nullable(PrivacySettings),
  },
  {
    $id: 'UserRequestV1',
    title: 'UserRequestV1',
    additionalProperties: true,
    description:
      'A user as stream-chat sends it: any other top-level key is a custom field (read-only fields such as created_at are ignored). null means "not given".',
  },
);

const userResponseFieldsV1 = {
  id: Type.String(),
  name: Type.Optional(Type.String()),
  image: Type.Optional(Type.String()),
  role: Type.String(),
  language: Type.String(),
  teams: Type.Array(Type.String()),
  teams_role: Type.Optional(Type.Record(Type.String(), Type.String())),
  created_at: DateTimeV1,
  updated_at: DateTimeV1,
  last_active: Type.Optional(DateTimeV1),
  deactivated_at: Type.Optional(DateTimeV1),
  deleted_at: Type.Optional(DateTimeV1),
  ban_expires: Type.Optional(DateTimeV1),
  revoke_tokens_issued_before: Type.Optional(DateTimeV1),
  banned: Type.Boolean(),
  online: Type.Boolean(),
  invisible: Type.Boolean(),
  shadow_banned: Type.Boolean(),
  blocked_user_ids: Type.Array(Type.String()),
  privacy_settings: Type.Optional(PrivacySettings),
};
const flattened = 'Custom fields appear as additional top-level properties.';

export const UserResponseV1 = Type.Object(userResponseFieldsV1, {
  $id: 'UserResponseV1',
  title: 'UserResponseV1',
  additionalProperties: true,
  description: flattened,
});
export const FullUserResponseV1 = Type.Object(
  {
    ...userResponseFieldsV1,
    devices: Type.Array(JsonObject),
    mutes: Type.Array(JsonObject),
    channel_mutes: Type.Array(JsonObject),
    unread_count: Type.Integer(),
    total_unread_count: Type.Integer(),
    unread_channels: Type.Integer(),
    unread_threads: Type.Integer(),
  },
  { $id: 'FullUserResponseV1', title: 'FullUserResponseV1', additionalProperties: true, description: flattened },
);

export const UpdateUsersRequestV1 = Type.Object(
  { users: Type.Record(Type.String(), Type.Ref(UserRequestV1)) },
  { $id: 'UpdateUsersRequestV1', title: 'UpdateUsersRequestV1' },
);
export const UpdateUsersResponseV1 = Type.Object(
  {
    users: Type.Record(Type.String(), Type.Ref(FullUserResponseV1)),
    membership_deletion_task_id: Type.String(),
    duration: Duration,
  },
  { $id: 'UpdateUsersResponseV1', title: 'UpdateUsersResponseV1' },
);
export const QueryUsersResponseV1 = Type.Object(
  { users: Type.Array(Type.Ref(FullUserResponseV1)), duration: Duration },
  { $id: 'QueryUsersResponseV1', title: 'QueryUsersResponseV1' },
);

export const CreateGuestRequestV1 = Type.Object({ user: Type.Ref(UserRequestV1) }, { $id: 'CreateGuestRequestV1', title: 'CreateGuestRequestV1' });
export const CreateGuestResponseV1 = Type.Object(
  { user: Type.Ref(UserResponseV1), access_token: Type.String(), duration: Duration },
  { $id: 'CreateGuestResponseV1', title: 'CreateGuestResponseV1' },
);

const blockRequestFields = {
  blocked_user_id: Type.String({ minLength: 1 }),
  user_id: Type.Optional(Type.String()),
  user: Type.Optional(Type.Ref(UserRequestV1)),
};
export const BlockUsersRequestV1 = Type.Object(blockRequestFields, { $id: 'BlockUsersRequestV1', title: 'BlockUsersRequestV1' });
export const UnblockUsersRequestV1 = Type.Object(blockRequestFields, { $id: 'UnblockUsersRequestV1', title: 'UnblockUsersRequestV1' });
export const BlockUsersResponseV1 = Type.Object(
  {
    blocked_by_user_id: Type.String(),
    blocked_user_id: Type.String(),
    created_at: DateTimeV1,
    blocked_at: Type.String({ format: 'date-time', description: 'the same as created_at: the name stream-chat types it by' }),
    duration: Duration,
  },
  { $id: 'BlockUsersResponseV1', title: 'BlockUsersResponseV1' },
);
export const BlockedUserResponseV1 = Type.Object(
  {
    user_id: Type.String(),
    blocked_user_id: Type.String(),
    created_at: DateTimeV1,
    user: Type.Ref(UserResponseV1),
    blocked_user: Type.Ref(UserResponseV1),
  },
  { $id: 'BlockedUserResponseV1', title: 'BlockedUserResponseV1' },
);
export const GetBlockedUsersResponseV1 = Type.Object(
  { blocks: Type.Array(Type.Ref(BlockedUserResponseV1)), duration: Duration },
  { $id: 'GetBlockedUsersResponseV1', title: 'GetBlockedUsersResponseV1' },
);

export const UserResultResponseV1 = Type.Object(
  { user: Type.Optional(Type.Ref(UserResponseV1)), duration: Duration },
  { $id: 'UserResultResponseV1', title: 'UserResultResponseV1' },
);

const BooleanParam = (description: string) => Type.Optional(StringEnum(['true', 'false'], { description }));
export const DeleteUserQueryV1 = Type.Object({
  hard_delete: BooleanParam('remove the user completely (DeleteUsers with user, messages and conversations "hard")'),
  mark_messages_deleted: BooleanParam("soft delete the user's messages (messages: soft)"),
  delete_conversation_channels: BooleanParam("delete the user's 1:1 channels (conversations: soft, or hard with hard_delete)"),
  api_key: Type.Optional(Type.String()),
});
export const DeleteUserResponseV1 = Type.Object(
  {
    user: Type.Ref(UserResponseV1),
    task_id: Type.String({ description: 'the DeleteUsers task that finishes the deletion; poll GET /tasks/{id}' }),
    duration: Duration,
  },
  { $id: 'DeleteUserResponseV1', title: 'DeleteUserResponseV1' },
);

export const ExportUserResponseV1 = Type.Object(
  {
    user: Type.Optional(Type.Ref(UserResponseV1)),
    messages: Type.Optional(Type.Array(JsonObject)),
    reactions: Type.Optional(Type.Array(JsonObject)),
    duration: Duration,
  },
  { $id: 'ExportUserResponseV1', title: 'ExportUserResponseV1' },
);

export const GetTaskResponseV1 = Type.Object(
  {
    task_id: Type.String({ format: 'uuid' }),
    status: TaskStatusSchema,
    created_at: DateTimeV1,
    updated_at: DateTimeV1,
    result: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'users in it are in the v1 shape' })),
    error: Type.Optional(Type.Ref('ErrorResult')),
    duration: Duration,
  },
  { $id: 'GetTaskResponseV1', title: 'GetTaskResponseV1' },
);

export const AppResponseFieldsV1 = Type.Object(
  {
    name: Type.String(),
    revoke_tokens_issued_before: Type.Optional(DateTimeV1),
    guest_user_creation_disabled: Type.Boolean(),
    enforce_unique_usernames: StringEnum(['no', 'app', 'team']),
    multi_tenant_enabled: Type.Boolean(),
  },
  { $id: 'AppResponseFieldsV1', title: 'AppResponseFieldsV1' },
);
export const GetApplicationResponseV1 = Type.Object(
  { app: Type.Ref(AppResponseFieldsV1), duration: Duration },
  { $id: 'GetApplicationResponseV1', title: 'GetApplicationResponseV1' },
);

export const v1Schemas = [
  UserRequestV1,
  UserResponseV1,
  FullUserResponseV1,
  UpdateUsersRequestV1,
  UpdateUsersResponseV1,
  QueryUsersResponseV1,
  CreateGuestRequestV1,
  CreateGuestResponseV1,
  BlockUsersRequestV1,
  UnblockUsersRequestV1,
  BlockUsersResponseV1,
  BlockedUserResponseV1,
  GetBlockedUsersResponseV1,
  UserResultResponseV1,
  DeleteUserResponseV1,
  ExportUserResponseV1,
  GetTaskResponseV1,
  AppResponseFieldsV1,
  GetApplicationResponseV1,
];
