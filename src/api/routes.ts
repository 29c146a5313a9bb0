// Renders the operation table as Fastify routes: one per operation and family, validated and serialized with the
// family's schemas, and named for OpenAPI (`<Name>` on v2, `<Name>V1` on v1, tagged `v1`).
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServiceContext } from '../context.js';
import { formatDuration } from '../http/envelope.js';
import { withErrors } from '../http/schemas.js';
import { JsonText, type Operation } from './operation.js';
import { operations } from './operations.js';
import { v1, v2, type Representation } from './representation.js';

export interface ApiOptions {
  ctx: ServiceContext;
  /** Base of links handed out (export downloads); else the request's origin. */
  publicUrl?: string;
}

function baseUrlOf(request: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}

function registerOperation(app: FastifyInstance, op: Operation, rep: Representation, options: ApiOptions) {
  const endpoint = rep.family === 'v2' ? op.v2 : op.v1;
  if (!endpoint) return;
  const ref = (schema: TSchema) => {
    if (!schema.$id) throw new Error(`${op.name}: request and response schemas must have an $id`);
    return Type.Ref(rep.schemaId(schema.$id));
  };
  app.route({
    method: op.method,
    url: endpoint.path,
    config: { operation: op.name, access: op.access ?? [] },
    schema: {
      operationId: rep.family === 'v2' ? op.name : `${op.name}V1`,
      summary: endpoint.summary,
      ...(endpoint.description ? { description: endpoint.description } : {}),
      tags: [rep.family === 'v2' ? op.tag : 'v1'],
      ...(op.params ? { params: op.params } : {}),
      ...(op.query ? { querystring: op.query } : {}),
      ...(op.body ? { body: op.bodyOptional ? Type.Optional(ref(op.body)) : ref(op.body) } : {}),
      response: withErrors({ [op.status]: ref(op.response) }),
    },
    handler: async (request, reply) => {
      const result = await op.handle({
        params: request.params,
        query: request.query,
        body: request.body ?? {},
        caller: request.caller,
        ctx: options.ctx,
        rep,
        baseUrl: baseUrlOf(request, options.publicUrl),
        log: request.log,
      });
      reply.code(op.status);
      if (!(result instanceof JsonText)) return result;
      const duration = JSON.stringify(formatDuration(request.startedAt));
      return reply.type('application/json; charset=utf-8').send(`${result.text.slice(0, -1)},"duration":${duration}}`);
    },
  });
}

/** Every operation of the table, in both families: all v2 routes, then all v1 routes. */
export function registerOperations(app: FastifyInstance, options: ApiOptions) {
  for (const rep of [v2, v1]) {
    for (const op of operations) registerOperation(app, op, rep, options);
  }
}
