// GET/PATCH /api/v2/app (Stream's app settings, the ones this server honours) and this server's own operator
// endpoint for monthly active users.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql, type Kysely } from 'kysely';
import type { Database, Micros } from '../db/schema.js';
import { microsToNanos } from '../db/timestamps.js';
import { inputError } from '../http/errors.js';
import { Duration, Nanos, StringEnum, withErrors } from '../http/schemas.js';
import { getAppSettings, type AppSettingsCache } from './service.js';

export const AppResponseFields = Type.Object(
  {
    name: Type.String(),
    revoke_tokens_issued_before: Type.Optional(Nanos),
    guest_user_creation_disabled: Type.Boolean(),
    enforce_unique_usernames: StringEnum(['no', 'app', 'team']),
    multi_tenant_enabled: Type.Boolean(),
  },
  { $id: 'AppResponseFields', title: 'AppResponseFields' },
);
export const GetApplicationResponse = Type.Object(
  { app: Type.Ref(AppResponseFields), duration: Duration },
  { $id: 'GetApplicationResponse', title: 'GetApplicationResponse' },
);
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
export const ActiveUsersResponse = Type.Object(
  {
    month: Type.String({ description: 'YYYY-MM' }),
    active_users: Type.Integer({ description: 'distinct users (guests included, anonymous never) active in the month' }),
    duration: Duration,
  },
  { $id: 'ActiveUsersResponse', title: 'ActiveUsersResponse' },
);
export const appSettingsSchemas = [AppResponseFields, GetApplicationResponse, UpdateAppRequest, ActiveUsersResponse];

/** The `app` object of GET app, with date-times written by `time` (integer ns on v2, RFC3339 on v1). */
export async function appResponseFields<T>(db: Kysely<Database>, name: string, time: (micros: Micros) => T) {
  const settings = await getAppSettings(db);
  return {
    name,
    ...(settings.revoke_tokens_issued_before !== null ? { revoke_tokens_issued_before: time(settings.revoke_tokens_issued_before) } : {}),
    guest_user_creation_disabled: settings.guest_user_creation_disabled,
    enforce_unique_usernames: settings.enforce_unique_usernames,
    multi_tenant_enabled: settings.multi_tenant_enabled,
  };
}

export interface AppSettingsRoutesOptions {
  db: Kysely<Database>;
  settings: AppSettingsCache;
  appName: () => string;
}

export const appSettingsRoutes: FastifyPluginAsyncTypebox<AppSettingsRoutesOptions> = async (app, { db, settings, appName }) => {
  app.route({
    method: 'GET',
    url: '/api/v2/app',
    schema: {
      operationId: 'GetApp',
      summary: "Get the app's settings",
      tags: ['app'],
      response: withErrors({ 200: Type.Ref(GetApplicationResponse) }),
    },
    handler: async () => ({ app: await appResponseFields(db, appName(), microsToNanos) }),
  });

  app.route({
    method: 'PATCH',
    url: '/api/v2/app',
    schema: {
      operationId: 'UpdateApp',
      summary: "Update the app's settings",
      tags: ['app'],
      body: Type.Ref(UpdateAppRequest),
      response: withErrors({ 200: Type.Object({ duration: Duration }) }),
    },
    handler: async (request) => {
      await settings.update(request.body as Record<string, unknown>);
      return {};
    },
  });

  app.route({
    method: 'GET',
    url: '/operator/active-users',
    schema: {
      operationId: 'GetMonthlyActiveUsers',
      summary: 'Count monthly active users',
      description:
        "This server's extension, outside Stream's API: the number of distinct users active (user-token requests, WebSocket connections) in a calendar month. Requires server-side auth.",
      tags: ['operator'],
      querystring: Type.Object({ month: Type.Optional(Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM; default the current month (UTC)' })) }),
      response: withErrors({ 200: Type.Ref(ActiveUsersResponse) }),
    },
    handler: async (request) => {
      const month = request.query.month ?? new Date().toISOString().slice(0, 7);
      if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw inputError('month must look like YYYY-MM');
      const result = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM user_activity WHERE month = ${`${month}-01`}::date`.execute(db);
      return { month, active_users: result.rows[0]?.n ?? 0 };
    },
  });
};
