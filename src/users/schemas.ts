// TypeBox schemas of the users endpoints: what the routes validate with and what openapi.yaml is generated from.
// A user has a shape per family (v2: custom data under `custom`, nanoseconds; v1: custom data flattened, RFC3339);
// the request and response bodies that carry users are declared once (usersCarriers) and made for each family.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DateTimeV1, Duration, JsonObject, Nanos, StringMap, named, type Family } from '../http/schemas.js';
import { MAX_TEAM_NAME_LENGTH, MAX_TEAMS_PER_USER, MAX_USERS_PER_REQUEST } from '../limits.js';

export const USER_ID_PATTERN = '^[@\\w-]{1,255}$';
export const UserId = Type.String({ minLength: 1, maxLength: 255, pattern: USER_ID_PATTERN });

const Enabled = Type.Object({ enabled: Type.Boolean() });
export const PrivacySettings = Type.Object({
  typing_indicators: Type.Optional(Enabled),
  read_receipts: Type.Optional(Enabled),
  delivery_receipts: Type.Optional(Enabled),
});

const Teams = Type.Array(Type.String({ minLength: 1, maxLength: MAX_TEAM_NAME_LENGTH }), { maxItems: MAX_TEAMS_PER_USER });
const TeamsRole = StringMap(Type.String());

// --- the user in a request -------------------------------------------------------------------------------------------

/** UserRequest: unknown top-level keys are ignored, custom data is nested under `custom`. */
export const UserRequest = Type.Object(
  {
    id: UserId,
    name: Type.Optional(Type.String()),
    image: Type.Optional(Type.String()),
    role: Type.Optional(Type.String({ minLength: 1 })),
    teams: Type.Optional(Type.Union([Teams, Type.Null()])),
    teams_role: Type.Optional(TeamsRole),
    language: Type.Optional(Type.String()),
    invisible: Type.Optional(Type.Boolean()),
    privacy_settings: Type.Optional(PrivacySettings),
    custom: Type.Optional(JsonObject),
  },
  { $id: 'UserRequest', title: 'UserRequest' },
);
export type UserRequest = Static<typeof UserRequest>;

const nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

export const UserRequestV1 = Type.Object(
  {
    id: UserId,
    name: nullable(Type.String()),
    image: nullable(Type.String()),
    role: nullable(Type.String({ minLength: 1 })),
    teams: nullable(Teams),
    teams_role: nullable(TeamsRole),
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

// --- the user in a response ------------------------------------------------------------------------------------------

/**
 * The fields of a user both families write, with the family's date-times. v1 leaves `blocked_user_ids` out of other
 * users (a user token sees who another user blocks in neither family; v2 writes `[]`, which node-sdk's types require).
 */
function userResponseFields(time: TSchema, family: 'v1' | 'v2') {
  return {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    image: Type.Optional(Type.String()),
    role: Type.String(),
    language: Type.String(),
    teams: Type.Array(Type.String()),
    teams_role: Type.Optional(TeamsRole),
    created_at: time,
    updated_at: time,
    last_active: Type.Optional(time),
    deactivated_at: Type.Optional(time),
    deleted_at: Type.Optional(time),
    ban_expires: Type.Optional(time),
    revoke_tokens_issued_before: Type.Optional(time),
    banned: Type.Boolean(),
    online: Type.Boolean(),
    invisible: Type.Boolean(),
    shadow_banned: Type.Boolean(),
    blocked_user_ids: family === 'v2' ? Type.Array(Type.String()) : Type.Optional(Type.Array(Type.String())),
    privacy_settings: Type.Optional(PrivacySettings),
  };
}

/** The chat-side fields of a full user: this server holds none of them, and writes them empty. */
const chatFields = {
  devices: Type.Array(JsonObject),
  mutes: Type.Array(JsonObject),
  channel_mutes: Type.Array(JsonObject),
  unread_count: Type.Integer(),
  total_unread_count: Type.Integer(),
  unread_channels: Type.Integer(),
  unread_threads: Type.Integer(),
};

const v2UserFields = { ...userResponseFields(Nanos, 'v2'), custom: JsonObject, bypass_moderation: Type.Optional(Type.Boolean()) };

export const UserResponse = Type.Object(
  { ...v2UserFields, devices: Type.Optional(Type.Array(JsonObject)), push_notifications: Type.Optional(JsonObject) },
  { $id: 'UserResponse', title: 'UserResponse' },
);

export const FullUserResponse = Type.Object(
  { ...v2UserFields, ...chatFields, latest_hidden_channels: Type.Optional(Type.Array(Type.String())) },
  { $id: 'FullUserResponse', title: 'FullUserResponse' },
);

const flattened = { additionalProperties: true, description: 'Custom fields appear as additional top-level properties.' };

export const UserResponseV1 = Type.Object(userResponseFields(DateTimeV1, 'v1'), { $id: 'UserResponseV1', title: 'UserResponseV1', ...flattened });

export const FullUserResponseV1 = Type.Object(
  { ...userResponseFields(DateTimeV1, 'v1'), ...chatFields },
  { $id: 'FullUserResponseV1', title: 'FullUserResponseV1', ...flattened },
);

export const V2 = {
  suffix: '',
  time: Nanos,
  userRequest: Type.Ref(UserRequest),
  user: Type.Ref(UserResponse),
  fullUser: Type.Ref(FullUserResponse),
} as const satisfies Family;

export const V1 = {
  suffix: 'V1',
  time: DateTimeV1,
  userRequest: Type.Ref(UserRequestV1),
  user: Type.Ref(UserResponseV1),
  fullUser: Type.Ref(FullUserResponseV1),
} as const satisfies Family;

// --- bodies that carry users, per family -----------------------------------------------------------------------------

export function usersCarriers<R extends TSchema, U extends TSchema, F extends TSchema>(family: Family<R, U, F>) {
  const blockRequest = (name: string) =>
    named(family, name, {
      blocked_user_id: Type.String({ minLength: 1 }),
      user_id: Type.Optional(Type.String()),
      user: Type.Optional(family.userRequest),
    });
  const BlockedUserResponse = named(family, 'BlockedUserResponse', {
    user_id: Type.String(),
    blocked_user_id: Type.String(),
    created_at: family.time,
    user: family.user,
    blocked_user: family.user,
  });
  return {
    UpdateUsersRequest: named(family, 'UpdateUsersRequest', { users: StringMap(family.userRequest) }),
    UpdateUsersResponse: named(family, 'UpdateUsersResponse', {
      users: StringMap(family.fullUser),
      membership_deletion_task_id: Type.String(),
      duration: Duration,
    }),
    QueryUsersResponse: named(family, 'QueryUsersResponse', { users: Type.Array(family.fullUser), duration: Duration }),
    CreateGuestRequest: named(family, 'CreateGuestRequest', { user: family.userRequest }),
    CreateGuestResponse: named(family, 'CreateGuestResponse', { user: family.user, access_token: Type.String(), duration: Duration }),
    BlockUsersRequest: blockRequest('BlockUsersRequest'),
    UnblockUsersRequest: blockRequest('UnblockUsersRequest'),
    BlockUsersResponse: named(family, 'BlockUsersResponse', {
      blocked_by_user_id: Type.String(),
      blocked_user_id: Type.String(),
      created_at: family.time,
      // stream-chat types the block by `blocked_at`, the spec by `created_at`: v1 sends both.
      ...(family.suffix === 'V1'
        ? { blocked_at: Type.String({ format: 'date-time', description: 'the same as created_at: the name stream-chat types it by' }) }
        : {}),
      duration: Duration,
    }),
    BlockedUserResponse,
    GetBlockedUsersResponse: named(family, 'GetBlockedUsersResponse', {
      blocks: Type.Array(Type.Ref(BlockedUserResponse)),
      duration: Duration,
    }),
  };
}

const v2Carriers = usersCarriers(V2);
export const {
  UpdateUsersRequest,
  UpdateUsersResponse,
  QueryUsersResponse,
  CreateGuestRequest,
  CreateGuestResponse,
  BlockUsersRequest,
  UnblockUsersRequest,
  BlockUsersResponse,
  BlockedUserResponse,
  GetBlockedUsersResponse,
} = v2Carriers;

// --- bodies that carry no user: the same in both families ------------------------------------------------------------

// PATCH users
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
  { users: Type.Array(Type.Ref(UpdateUserPartialRequest), { maxItems: MAX_USERS_PER_REQUEST }) },
  { $id: 'UpdateUsersPartialRequest', title: 'UpdateUsersPartialRequest' },
);

// GET users
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

export const DurationResponse = Type.Object({ duration: Duration }, { $id: 'Response', title: 'Response' });
export const GetBlockedUsersQuery = Type.Object({
  user_id: Type.Optional(Type.String()),
  api_key: Type.Optional(Type.String()),
});

/** The schemas of one family that carry users, and (v2 only) those that are the same in both. */
export const usersSchemas = [
  UserRequest,
  UserResponse,
  FullUserResponse,
  ...Object.values(v2Carriers),
  UpdateUserPartialRequest,
  UpdateUsersPartialRequest,
  QueryUsersPayload,
  DurationResponse,
];
export const usersSchemasV1 = [UserRequestV1, UserResponseV1, FullUserResponseV1, ...Object.values(usersCarriers(V1))];
