// Builds the HTTP application from its parts. No process concerns here (see server.ts): tests call buildApp.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { registerAuth, type AppCredentials } from './auth/plugin.js';
import type { Database } from './db/schema.js';
import { registerEnvelope } from './http/envelope.js';
import { RateLimiter } from './http/rate-limit.js';
import { ErrorEnvelope } from './http/schemas.js';
import { usersRoutes } from './users/routes.js';
import { usersSchemas } from './users/schemas.js';
import type { RateLimitConfig } from './config.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface AppDeps {
  db: Kysely<Database>;
  credentials: AppCredentials;
  rateLimit?: RateLimitConfig;
  logger?: Logger | false;
  /** Registers @fastify/swagger so that openapi.yaml can be generated from the route schemas. */
  openapi?: boolean;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (deps.openapi) await app.register(swagger, openapiOptions);

  const limiter = new RateLimiter(deps.rateLimit?.multiplier ?? 100, deps.rateLimit?.overrides ?? {});
  registerEnvelope(app, limiter, () => deps.credentials.apiKey);
  registerAuth(app, () => deps.credentials);

  app.addSchema(ErrorEnvelope);
  for (const schema of usersSchemas) app.addSchema(schema);

  app.get('/healthz', { config: { public: true, rateLimited: false }, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { public: true, rateLimited: false }, schema: { hide: true } }, async (_request, reply) => {
    try {
      await sql`SELECT 1`.execute(deps.db);
      return { status: 'ok' };
    } catch {
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  await app.register(usersRoutes, { prefix: '/api/v2', db: deps.db, credentials: () => deps.credentials });
  return app;
}

const openapiOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Stream-compatible users API',
      version: '0.1.0',
      description: 'A self-hosted, drop-in replacement for the user-management endpoints of Stream (getstream.io).',
      license: { name: 'UNLICENSED' },
    },
    servers: [{ url: 'http://127.0.0.1:3030' }],
    components: {
      securitySchemes: {
        api_key: { type: 'apiKey' as const, in: 'query' as const, name: 'api_key' },
        JWT: { type: 'apiKey' as const, in: 'header' as const, name: 'Authorization' },
        stream_auth_type: { type: 'apiKey' as const, in: 'header' as const, name: 'stream-auth-type' },
      },
    },
    security: [{ api_key: [], JWT: [], stream_auth_type: [] }],
  },
  refResolver: { buildLocalReference: (json: { $id?: string }, _baseUri: unknown, _fragment: unknown, i: number) => json.$id ?? `def-${i}` },
};
