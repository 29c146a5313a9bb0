// Schemas of this server's monthly-active-users extension.
import { Type } from '@sinclair/typebox';
import { Duration } from '../http/schemas.js';

export const ActiveUsersResponse = Type.Object(
  {
    month: Type.String({ description: 'YYYY-MM' }),
    active_users: Type.Integer({ description: 'distinct users (guests included, anonymous never) active in the month' }),
    duration: Duration,
  },
  { $id: 'ActiveUsersResponse', title: 'ActiveUsersResponse' },
);
export const activitySchemas = [ActiveUsersResponse];
