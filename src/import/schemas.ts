// Schemas of this server's import endpoint (POST /operator/import).
import { Type } from '@sinclair/typebox';
import { Duration } from '../http/schemas.js';

const Flag = Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')]);

export const ImportUsersQuery = Type.Object({
  on_conflict: Type.Optional(
    Type.Union([Type.Literal('newer'), Type.Literal('overwrite'), Type.Literal('skip')], {
      description: 'a user that exists already: the newer updated_at wins (newer, the default), the line replaces it (overwrite), or it is kept (skip)',
    }),
  ),
  webhooks: Type.Optional(Type.Union([Flag], { description: 'send one user.updated per user written (default false)' })),
  api_key: Type.Optional(Type.String()),
});

export const ImportFailure = Type.Object({
  line: Type.Integer({ description: 'line number within the chunk, from 1' }),
  id: Type.Union([Type.String(), Type.Null()], { description: 'the user id of the line, when it has one' }),
  message: Type.String(),
});

export const ImportUsersResponse = Type.Object(
  {
    imported: Type.Integer({ description: 'users written (created or changed)' }),
    unchanged: Type.Integer({ description: 'users already stored so, or kept by on_conflict' }),
    failed: Type.Array(ImportFailure, { description: 'lines refused, each with the API message; the rest of the chunk was imported' }),
    duration: Duration,
  },
  { $id: 'ImportUsersResponse', title: 'ImportUsersResponse' },
);

export const importSchemas = [ImportUsersResponse];
