// POST /operator/import: one chunk of a user file (JSON lines, gzip accepted), imported in one transaction. This
// server's extension, outside Stream's paths, with server-side auth. Its own body parser: the chunk is read as bytes
// (up to 16 MB, where the API's JSON bodies stop at 1 MB) and decoded by the service.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../context.js';
import { withErrors } from '../http/schemas.js';
import { Type } from '@sinclair/typebox';
import { MAX_CHUNK_BYTES, MAX_CHUNK_LINES } from './format.js';
import { ImportUsersQuery } from './schemas.js';
import { decodeChunk, importChunk } from './service.js';

export const importRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_CHUNK_BYTES }, (_request, body, done) => done(null, body));
  app.route({
    method: 'POST',
    url: '/operator/import',
    config: { operation: 'ImportUsers' },
    schema: {
      operationId: 'ImportUsers',
      summary: 'Import users from JSON lines',
      description:
        "This server's extension, outside Stream's API: one chunk of a user file, one user per line (v2 form as queryUsers answers on /api/v2, " +
        `v1 form with custom fields at the top level, or a line of this server's export file), at most ${MAX_CHUNK_LINES} lines and ` +
        `${MAX_CHUNK_BYTES} bytes once decompressed (Content-Encoding: gzip accepted). Written in one transaction; a refused user is ` +
        'reported with its line and the rest goes on; the same chunk sent twice gives the same result. Requires server-side auth. ' +
        'See README "Moving from hosted Stream".',
      tags: ['operator'],
      querystring: ImportUsersQuery,
      response: withErrors({ 200: Type.Ref('ImportUsersResponse') }),
    },
    handler: async (request) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const text = await decodeChunk(body, request.headers['content-encoding'] as string | undefined);
      const flag = request.query.webhooks;
      return importChunk(ctx, text, { onConflict: request.query.on_conflict ?? 'newer', webhooks: flag === 'true' || flag === '1' });
    },
  });
};
