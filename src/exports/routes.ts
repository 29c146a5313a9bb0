// GET /exports/users/{file}: downloads an export file through its signed link, with no Stream headers.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../context.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { withErrors } from '../http/schemas.js';
import { downloadExport } from './service.js';

export const exportDownloadRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.route({
    method: 'GET',
    url: '/exports/users/:file',
    config: { public: true },
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
      const check = await downloadExport(ctx.db, ctx.credentials().apiSecret, fileId, request.query.expires, request.query.signature);
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
