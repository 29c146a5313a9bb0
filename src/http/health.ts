// Probes for process supervisors and load balancers: no credentials, not rate limited.
import type { FastifyInstance } from 'fastify';
import { pingDatabase } from '../db/database.js';
import type { Db } from '../db/schema.js';

const okResponse = {
  type: 'object',
  required: ['status', 'duration'],
  properties: { status: { type: 'string', const: 'ok' }, duration: { type: 'string' } },
} as const;

export function registerHealth(app: FastifyInstance, db: Db) {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        operationId: 'Healthz',
        summary: 'Liveness probe',
        description: 'Answers 200 while the process serves HTTP. Needs no credentials and is not rate limited.',
        tags: ['health'],
        security: [],
        response: { 200: { description: 'The server is up', ...okResponse } },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        operationId: 'Readyz',
        summary: 'Readiness probe',
        description: 'Answers 200 when the database answers a query, 503 otherwise. Needs no credentials and is not rate limited.',
        tags: ['health'],
        security: [],
        response: {
          200: { description: 'The server and its database are ready', ...okResponse },
          503: {
            description: 'The database is unreachable',
            type: 'object',
            required: ['status'],
            properties: { status: { type: 'string', const: 'unavailable' } },
          },
        },
      },
    },
    async (_request, reply) => ((await pingDatabase(db)) ? { status: 'ok' } : reply.code(503).send({ status: 'unavailable' })),
  );
}
