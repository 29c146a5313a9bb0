// Schemas of GET/PATCH app; the response is made for each family (its date-time differs).
import { Type } from '@sinclair/typebox';
import { Duration, StringEnum, named, type Family } from '../http/schemas.js';
import { V1, V2 } from '../users/schemas.js';

export function appCarriers(family: Family) {
  const AppResponseFields = named(family, 'AppResponseFields', {
    name: Type.String(),
    revoke_tokens_issued_before: Type.Optional(family.time),
    guest_user_creation_disabled: Type.Boolean(),
    enforce_unique_usernames: StringEnum(['no', 'app', 'team']),
    multi_tenant_enabled: Type.Boolean(),
  });
  return {
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
  },
  {
    $id: 'UpdateAppRequest',
    title: 'UpdateAppRequest',
    description: 'Any other Stream app setting is refused with code 4: this server does not implement it.',
  },
);
export const appSettingsSchemas = [...Object.values(v2Carriers), UpdateAppRequest];
export const appSettingsSchemasV1 = Object.values(appCarriers(V1));
