// GET /operator/users.jsonl: a snapshot of every user, streamed as JSON lines in the import format. This server's
// extension, outside Stream's paths, with server-side auth.
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../context.js';
import { withErrors } from '../http/schemas.js';
import { snapshotLines } from './service.js';

export const snapshotRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.route({
    method: 'GET',
    url: '/operator/users.jsonl',
    config: { operation: 'ExportSnapshot' },
    schema: {
      operationId: 'ExportSnapshot',
      summary: 'Every user as JSON lines (a snapshot)',
      description:
        "This server's extension, outside Stream's API: every user, deleted and deactivated ones included, one per line in the " +
        'format POST /operator/import and IMPORT_FILE take (the v2 form, blocked_user_ids included), in id order. Requires server-side auth. ' +
        'See README "Use it in your tests".',
      tags: ['operator'],
      response: withErrors({
        200: Type.String({ description: 'one user per line, in the import format', contentMediaType: 'application/x-ndjson' }),
      }),
    },
    handler: async (_request, reply) =>
      reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', 'attachment; filename="users.jsonl"').send(Readable.from(snapshotLines(ctx))),
  });
};
