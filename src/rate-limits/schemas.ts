// Schemas of GetRateLimits (GET /api/v2/rate_limits, and /rate_limits for the v1 clients): the same in both families.
import { Type } from '@sinclair/typebox';
import { Duration, StringMap } from '../http/schemas.js';

const Flag = (platform: string) =>
  Type.Optional(Type.String({ description: `"true" to include the ${platform} platform; with no platform flag, every platform is included` }));

export const GetRateLimitsQuery = Type.Object({
  server_side: Flag('server-side'),
  android: Flag('Android'),
  ios: Flag('iOS'),
  web: Flag('web'),
  unity: Flag('Unity'),
  endpoints: Type.Optional(Type.String({ description: 'comma-separated operation names, e.g. "QueryUsers,SendMessage"; default every operation this server serves' })),
  api_key: Type.Optional(Type.String()),
});

export const LimitInfo = Type.Object(
  {
    limit: Type.Integer({ description: 'calls allowed per one-minute window' }),
    remaining: Type.Integer({ description: 'calls left in the current window' }),
    reset: Type.Integer({ description: 'Unix seconds at which the window resets' }),
  },
  { $id: 'LimitInfoResponse', title: 'LimitInfoResponse' },
);

const Section = (platform: string) => Type.Optional(StringMap(Type.Ref(LimitInfo), { description: `the ${platform} platform's budgets, by operation` }));

export const GetRateLimitsResponse = Type.Object(
  {
    server_side: Section('server-side'),
    android: Section('Android'),
    ios: Section('iOS'),
    web: Section('web'),
    unity: Section('Unity'),
    duration: Duration,
  },
  { $id: 'GetRateLimitsResponse', title: 'GetRateLimitsResponse' },
);

export const rateLimitsSchemas = [LimitInfo, GetRateLimitsResponse];
