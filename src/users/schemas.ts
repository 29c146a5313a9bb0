// TypeBox schemas of the v2 users endpoints: what the routes validate with and what openapi.yaml is generated from.
import { Type, type Static } from '@sinclair/typebox';
import { Duration, JsonObject, Nanos } from '../http/schemas.js';

export const USER_ID_PATTERN = '^[@\\w-]{1,255}$';
export const UserId = Type.String({ minLength: 1, maxLength: 255, pattern: USER_ID_PATTERN });

const Enabled = Type.Object({ enabled: Type.Boolean() });
export const PrivacySettings = Type.Object({
  typing_indicators: Type.Optional(Enabled),
  read_receipts: Type.Optional(Enabled),
  delivery_receipts: Type.Optional(Enabled),
});

/** UserRequest: unknown top-level keys are ignored, custom data is nested under `custom`. */
export const UserRequest = Type.Object(
  {
    id: UserId,
    name: Type.Optional(Type.String()),
    image: Type.Optional(Type.String()),
    role: Type.Optional(Type.String({ minLength: 1 })),
    teams: Type.Optional(Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 250 }), Type.Null()])),
    teams_role: Type.Optional(Type.Record(Type.String(), Type.String())),
    language: Type.Optional(Type.String()),
    invisible: Type.Optional(Type.Boolean()),
    privacy_settings: Type.Optional(PrivacySettings),
    custom: Type.Optional(JsonObject),
  },
  { $id: 'UserRequest', title: 'UserRequest' },
);
export type UserRequest = Static<typeof UserRequest>;

const userResponseFields = {
  id: Type.String(),
  name: Type.Optional(Type.String()),
  image: Type.Optional(Type.String()),
  role: Type.String(),
  language: Type.String(),
  teams: Type.Array(Type.String()),
  teams_role: Type.Optional(Type.Record(Type.String(), Type.String())),
  custom: JsonObject,
  created_at: Nanos,
  updated_at: Nanos,
  last_active: Type.Optional(Nanos),
  deactivated_at: Type.Optional(Nanos),
  deleted_at: Type.Optional(Nanos),
  ban_expires: Type.Optional(Nanos),
  revoke_tokens_issued_before: Type.Optional(Nanos),
  banned: Type.Boolean(),
  online: Type.Boolean(),
  invisible: Type.Boolean(),
  shadow_banned: Type.Boolean(),
  bypass_moderation: Type.Optional(Type.Boolean()),
  blocked_user_ids: Type.Array(Type.String()),
  privacy_settings: Type.Optional(PrivacySettings),
};

export const UserResponse = Type.Object(
  {
    ...userResponseFields,
    devices: Type.Optional(Type.Array(JsonObject)),
    push_notifications: Type.Optional(JsonObject),
  },
  { $id: 'UserResponse', title: 'UserResponse' },
);

export const FullUserResponse = Type.Object(
  {
    ...userResponseFields,
    devices: Type.Array(JsonObject),
    mutes: Type.Array(JsonObject),
    channel_mutes: Type.Array(JsonObject),
    unread_count: Type.Integer(),
    total_unread_count: Type.Integer(),
    unread_channels: Type.Integer(),
    unread_threads: Type.Integer(),
    latest_hidden_channels: Type.Optional(Type.Array(Type.String())),
  },
  { $id: 'FullUserResponse', title: 'FullUserResponse' },
);

// POST /api/v2/users
export const UpdateUsersRequest = Type.Object(
  { users: Type.Record(Type.String(), Type.Ref(UserRequest)) },
  { $id: 'UpdateUsersRequest', title: 'UpdateUsersRequest' },
);
export const UpdateUsersResponse = Type.Object(
  {
    users: Type.Record(Type.String(), Type.Ref(FullUserResponse)),
    membership_deletion_task_id: Type.String(),
    duration: Duration,
  },
  { $id: 'UpdateUsersResponse', title: 'UpdateUsersResponse' },
);

// PATCH /api/v2/users
export const UpdateUserPartialRequest = Type.Object(
  {
    id: Type.String(),
    set: Type.Optional(JsonObject),
    unset: Type.Optional(Type.Array(Type.String())),
  },
  { $id: 'UpdateUserPartialRequest', title: 'UpdateUserPartialRequest' },
);
export type UpdateUserPartialRequest = Static<typeof UpdateUserPartialRequest>;
export const UpdateUsersPartialRequest = Type.Object(
  { users: Type.Array(Type.Ref(UpdateUserPartialRequest), { maxItems: 100 }) },
  { $id: 'UpdateUsersPartialRequest', title: 'UpdateUsersPartialRequest' },
);

// GET /api/v2/users
export const QueryUsersQuery = Type.Object({
  payload: Type.Optional(Type.String({ description: 'JSON-encoded QueryUsersPayload' })),
  api_key: Type.Optional(Type.String()),
});
export const QueryUsersPayload = Type.Object(
  {
    filter_conditions: Type.Optional(JsonObject),
    sort: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String(),
          direction: Type.Optional(Type.Integer()),
          type: Type.Optional(Type.String()),
        }),
        { maxItems: 5 },
      ),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    presence: Type.Optional(Type.Boolean()),
    include_deactivated_users: Type.Optional(Type.Boolean()),
    user_id: Type.Optional(Type.String()),
    user: Type.Optional(Type.Ref(UserRequest)),
    id_gt: Type.Optional(Type.String()),
    id_gte: Type.Optional(Type.String()),
    id_lt: Type.Optional(Type.String()),
    id_lte: Type.Optional(Type.String()),
  },
  { $id: 'QueryUsersPayload', title: 'QueryUsersPayload' },
);
export type QueryUsersPayload = Static<typeof QueryUsersPayload>;
export const QueryUsersResponse = Type.Object(
  { users: Type.Array(Type.Ref(FullUserResponse)), duration: Duration },
  { $id: 'QueryUsersResponse', title: 'QueryUsersResponse' },
);

// POST /api/v2/guest
export const CreateGuestRequest = Type.Object({ user: Type.Ref(UserRequest) }, { $id: 'CreateGuestRequest', title: 'CreateGuestRequest' });
export const CreateGuestResponse = Type.Object(
  { user: Type.Ref(UserResponse), access_token: Type.String(), duration: Duration },
  { $id: 'CreateGuestResponse', title: 'CreateGuestResponse' },
);

// Blocks
export const BlockUsersRequest = Type.Object(
  {
    blocked_user_id: Type.String({ minLength: 1 }),
    user_id: Type.Optional(Type.String()),
    user: Type.Optional(Type.Ref(UserRequest)),
  },
  { $id: 'BlockUsersRequest', title: 'BlockUsersRequest' },
);
export type BlockUsersRequest = Static<typeof BlockUsersRequest>;
export const BlockUsersResponse = Type.Object(
  {
    blocked_by_user_id: Type.String(),
    blocked_user_id: Type.String(),
    created_at: Nanos,
    duration: Duration,
  },
  { $id: 'BlockUsersResponse', title: 'BlockUsersResponse' },
);
export const UnblockUsersRequest = Type.Object(
  {
    blocked_user_id: Type.String({ minLength: 1 }),
    user_id: Type.Optional(Type.String()),
    user: Type.Optional(Type.Ref(UserRequest)),
  },
  { $id: 'UnblockUsersRequest', title: 'UnblockUsersRequest' },
);
export const DurationResponse = Type.Object({ duration: Duration }, { $id: 'Response', title: 'Response' });
export const GetBlockedUsersQuery = Type.Object({
  user_id: Type.Optional(Type.String()),
  api_key: Type.Optional(Type.String()),
});
export const BlockedUser = Type.Object(
  {
    user_id: Type.String(),
    blocked_user_id: Type.String(),
    created_at: Nanos,
    user: Type.Ref(UserResponse),
    blocked_user: Type.Ref(UserResponse),
  },
  { $id: 'BlockedUserResponse', title: 'BlockedUserResponse' },
);
export const GetBlockedUsersResponse = Type.Object(
  { blocks: Type.Array(Type.Ref(BlockedUser)), duration: Duration },
  { $id: 'GetBlockedUsersResponse', title: 'GetBlockedUsersResponse' },
);

export const usersSchemas = [
  UserRequest,
  UserResponse,
  FullUserResponse,
  UpdateUsersRequest,
  UpdateUsersResponse,
  UpdateUserPartialRequest,
  UpdateUsersPartialRequest,
  QueryUsersPayload,
  QueryUsersResponse,
  CreateGuestRequest,
  CreateGuestResponse,
  BlockUsersRequest,
  BlockUsersResponse,
  UnblockUsersRequest,
  DurationResponse,
  BlockedUser,
  GetBlockedUsersResponse,
];
