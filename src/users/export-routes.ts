// GET /exports/users/{file}: downloads an export file through its signed link, with no Stream headers.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { withErrors } from '../http/schemas.js';
import { downloadExport } from './export.js';

export interface ExportRoutesOptions {
  db: Kysely<Database>;
  apiSecret: () => string;
}

export const exportDownloadRoutes: FastifyPluginAsyncTypebox<ExportRoutesOptions> = async (app, { db, apiSecret }) => {
  app.route({
    method: 'GET',
    url: '/exports/users/:file',
    config: { public: true, rateLimited: false },
    schema: {
      operationId: 'DownloadUsersExport',
      summary: 'Download an export file (signed link from a completed ExportUsers task)',
      description: "This server's extension: the link in an ExportUsers task's result.url. No API key or token; the signature and expiry in the query authorize it.",
      tags: ['exports'],
      security: [],
      params: Type.Object({ file: Type.String() }),
      querystring: Type.Object({ expires: Type.Optional(Type.String()), signature: Type.Optional(Type.String()) }),
      response: withErrors({
        200: Type.String({ description: 'line-delimited JSON: one {user, messages, reactions} object per line', contentMediaType: 'application/x-ndjson' }),
      }),
    },
    handler: async (request, reply) => {
      const fileId = request.params.file.replace(/\.ndjson$/, '');
      const check = await downloadExport(db, apiSecret(), fileId, request.query.expires, request.query.signature);
      if (!check.ok) {
        if (check.reason === 'signature') throw new StreamError(ErrorCode.NotAllowed, 'the download link signature is invalid');
        throw new StreamError(ErrorCode.DoesNotExist, 'the export file does not exist or has expired');
      }
      return reply
        .type('application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${fileId}.ndjson"`)
        .send(check.content);
    },
  });
};
