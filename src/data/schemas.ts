// Schemas of this server's test-double extension: DELETE /operator/data.
import { Type } from '@sinclair/typebox';
import { Duration } from '../http/schemas.js';

export const ClearDataQuery = Type.Object({
  settings: Type.Optional(Type.String({ enum: ['true', 'false'], description: '"true" also resets the app settings to their defaults (the credentials stay)' })),
});

export const ClearDataResponse = Type.Object(
  {
    tables: Type.Array(Type.String(), { description: 'the tables emptied' }),
    settings_reset: Type.Boolean(),
    duration: Duration,
  },
  { $id: 'ClearDataResponse', title: 'ClearDataResponse' },
);

export const dataSchemas = [ClearDataResponse];
