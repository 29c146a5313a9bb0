// Schemas of GET/PATCH app; the response is made for each family (its date-time differs).
import { Type } from '@sinclair/typebox';
import { Duration, StringEnum, named, type Family } from '../http/schemas.js';
import { V1, V2 } from '../users/schemas.js';

/** What a hook holds besides what any hook type may: typed where this server reads it, anything else kept as given. */
const hookFields = {
  id: Type.String(),
  hook_type: Type.String({ description: '"webhook" hooks are delivered; others (sqs, sns, pending_message, …) are stored and returned only' }),
  enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
  webhook_url: Type.Optional(Type.String()),
  event_types: Type.Optional(Type.Array(Type.String(), { description: 'the event types to send; empty or absent: all' })),
  timeout_ms: Type.Optional(Type.Integer({ description: 'per delivery attempt; default 6000' })),
};

export const EventHookRequest = Type.Object(
  {
    ...hookFields,
    id: Type.Optional(Type.String({ description: "a stored hook's id keeps its created_at; absent, a new id is given" })),
    hook_type: Type.Optional(Type.String({ description: 'default "webhook"' })),
  },
  { $id: 'EventHookRequest', title: 'EventHookRequest', additionalProperties: true },
);

export function appCarriers(family: Family) {
  const EventHook = named(family, 'EventHook', { ...hookFields, created_at: family.time, updated_at: family.time }, { additionalProperties: true });
  const AppResponseFields = named(family, 'AppResponseFields', {
    name: Type.String(),
    revoke_tokens_issued_before: Type.Optional(family.time),
    guest_user_creation_disabled: Type.Boolean(),
    enforce_unique_usernames: StringEnum(['no', 'app', 'team']),
    multi_tenant_enabled: Type.Boolean(),
    webhook_url: Type.String({ description: '"" when none is set' }),
    webhook_events: Type.Array(Type.String()),
    event_hooks: Type.Array(Type.Ref(EventHook)),
  });
  return {
    EventHook,
    AppResponseFields,
    GetApplicationResponse: named(family, 'GetApplicationResponse', { app: Type.Ref(AppResponseFields), duration: Duration }),
  };
}

const v2Carriers = appCarriers(V2);
export const { GetApplicationResponse } = v2Carriers;
export const UpdateAppRequest = Type.Object(
  {
    revoke_tokens_issued_before: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
    guest_user_creation_disabled: Type.Optional(Type.Boolean()),
    enforce_unique_usernames: Type.Optional(Type.String({ description: 'no | app | team' })),
    multi_tenant_enabled: Type.Optional(Type.Boolean()),
    webhook_url: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'an absolute http or https URL; "" or null removes it' })),
    webhook_events: Type.Optional(Type.Array(Type.String(), { description: 'the event types webhook_url receives; empty: all' })),
    event_hooks: Type.Optional(Type.Array(Type.Ref(EventHookRequest), { description: 'replaces the stored list' })),
  },
  {
    $id: 'UpdateAppRequest',
    title: 'UpdateAppRequest',
    description: 'Any other Stream app setting is refused with code 4: this server does not implement it.',
  },
);
export const appSettingsSchemas = [...Object.values(v2Carriers), EventHookRequest, UpdateAppRequest];
export const appSettingsSchemasV1 = Object.values(appCarriers(V1));
