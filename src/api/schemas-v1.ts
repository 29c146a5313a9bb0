// The v1 family's schemas (`stream-chat`): the twins of the v2 schemas that carry users or date-times (made by the
// same functions, see http/schemas.ts Family), and the legacy single-user delete, which only v1 has.
import { Type } from '@sinclair/typebox';
import { appSettingsSchemasV1 } from '../app-settings/schemas.js';
import { Duration, StringEnum } from '../http/schemas.js';
import { lifecycleSchemasV1 } from '../lifecycle/schemas.js';
import { tasksSchemasV1 } from '../tasks/schemas.js';
import { V1, usersSchemasV1 } from '../users/schemas.js';

const BooleanParam = (description: string) => Type.Optional(StringEnum(['true', 'false'], { description }));
export const DeleteUserQueryV1 = Type.Object({
  hard_delete: BooleanParam('remove the user completely (DeleteUsers with user, messages and conversations "hard")'),
  mark_messages_deleted: BooleanParam("soft delete the user's messages (messages: soft)"),
  delete_conversation_channels: BooleanParam("delete the user's 1:1 channels (conversations: soft, or hard with hard_delete)"),
  api_key: Type.Optional(Type.String()),
});
export const DeleteUserResponseV1 = Type.Object(
  {
    user: V1.user,
    task_id: Type.String({ description: 'the DeleteUsers task that finishes the deletion; poll GET /tasks/{id}' }),
    duration: Duration,
  },
  { $id: 'DeleteUserResponseV1', title: 'DeleteUserResponseV1' },
);

export const v1Schemas = [...usersSchemasV1, ...lifecycleSchemasV1, ...tasksSchemasV1, ...appSettingsSchemasV1, DeleteUserResponseV1];
