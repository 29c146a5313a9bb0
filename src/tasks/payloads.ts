// What each task type carries in `tasks.payload`: its users, and the options its request asked for. The task table
// (table.ts) names each type's schema; the services that enqueue a task and the runners that read it share its type.
// Only types and schemas here (no runner), so that both sides can import it without reaching the table.
import { Type, type Static } from '@sinclair/typebox';

const UserIds = Type.Array(Type.String());
const Modes = <const T extends string>(modes: readonly T[]) => Type.Union(modes.map((mode) => Type.Literal(mode)));

export const DeactivateOptions = Type.Object({
  mark_messages_deleted: Type.Optional(Type.Boolean()),
  mark_channels_deleted: Type.Optional(Type.Boolean()),
  created_by_id: Type.Optional(Type.String()),
});
export type DeactivateOptions = Static<typeof DeactivateOptions>;

export const ReactivateOptions = Type.Object({
  name: Type.Optional(Type.String()),
  restore_messages: Type.Optional(Type.Boolean()),
  restore_channels: Type.Optional(Type.Boolean()),
  created_by_id: Type.Optional(Type.String()),
});
export type ReactivateOptions = Static<typeof ReactivateOptions>;

export const DELETE_MODES = ['soft', 'pruning', 'hard'] as const;
export type DeleteMode = (typeof DELETE_MODES)[number];

export const DeleteOptions = Type.Object({
  user: Type.Optional(Modes(DELETE_MODES)),
  messages: Type.Optional(Modes(DELETE_MODES)),
  conversations: Type.Optional(Modes(['soft', 'hard'])),
  calls: Type.Optional(Modes(['soft', 'hard'])),
  files: Type.Optional(Type.Boolean()),
  new_channel_owner_id: Type.Optional(Type.String()),
  new_call_owner_id: Type.Optional(Type.String()),
});
export type DeleteOptions = Static<typeof DeleteOptions>;

const usersWith = <T extends ReturnType<typeof Type.Object>>(options: T) => Type.Object({ user_ids: UserIds, options });

export const DeactivateUsersPayload = usersWith(DeactivateOptions);
export type DeactivateUsersPayload = Static<typeof DeactivateUsersPayload>;
export const ReactivateUsersPayload = usersWith(ReactivateOptions);
export type ReactivateUsersPayload = Static<typeof ReactivateUsersPayload>;
/** The options as the request recorded them on the users, the deletion mode always written out. */
export const DeleteUsersPayload = usersWith(Type.Composite([DeleteOptions, Type.Object({ user: Modes(DELETE_MODES) })]));
export type DeleteUsersPayload = Static<typeof DeleteUsersPayload>;
export const ExportUsersPayload = Type.Object({ user_ids: UserIds });
export type ExportUsersPayload = Static<typeof ExportUsersPayload>;
