// Probes for process supervisors and load balancers: no credentials, not rate limited.
import type { FastifyInstance } from 'fastify';
import { pingDatabase } from '../db/database.js';
import type { Db } from '../db/schema.js';

const okResponse = {
  type: 'object',
  required: ['status', 'duration'],
  properties: { status: { type: 'string', const: 'ok' }, duration: { type: 'string' } },
} as const;

const readyResponse = {
  ...okResponse,
  required: ['status', 'notifications', 'duration'],
  properties: {
    ...okResponse.properties,
    notifications: {
      type: 'string',
      enum: ['listening', 'polling'],
      description:
        '"listening": NOTIFY wakes this instance at once (tasks, webhooks, settings changed elsewhere); "polling": a LISTEN ' +
        'connection failed its check and is being replaced, and until then work is found by polling (TASK_POLL_MS)',
    },
  },
} as const;

declare module 'fastify' {
  interface FastifyInstance {
    /** Starts the shutdown's drain: /readyz answers 503 from now on, and answers ask clients not to keep the connection. */
    startDraining(): void;
  }
}

export function registerHealth(app: FastifyInstance, db: Db, listening: () => boolean = () => true) {
  let draining = false;
  app.decorate('startDraining', () => {
    draining = true;
  });
  // A keep-alive client would otherwise go on sending to this instance after the load balancer stopped routing to it.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (draining) reply.header('connection', 'close');
    return payload;
  });

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
        description:
          'Answers 200 when the database answers a query (saying whether notifications arrive or work is found by polling); 503 when it does not, and from the moment the server is told to shut down ' +
          '(status "draining"), so that a load balancer stops sending to it. Needs no credentials and is not rate limited.',
        tags: ['health'],
        security: [],
        response: {
          200: { description: 'The server and its database are ready', ...readyResponse },
          503: {
            description: 'The database is unreachable, or the server is shutting down',
            type: 'object',
            required: ['status'],
            properties: { status: { type: 'string', enum: ['unavailable', 'draining'] } },
          },
        },
      },
    },
    async (_request, reply) => {
      if (draining) return reply.code(503).send({ status: 'draining' });
      if (!(await pingDatabase(db))) return reply.code(503).send({ status: 'unavailable' });
      return { status: 'ok', notifications: listening() ? 'listening' : 'polling' };
    },
  );
}
