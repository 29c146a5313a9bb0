// Builds the HTTP application from its parts. No process concerns here (see server.ts): tests call buildApp.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { appSettingsRoutes, appSettingsSchemas } from './app-settings/routes.js';
import { AppSettingsCache } from './app-settings/service.js';
import { registerAuth, type AppCredentials } from './auth/plugin.js';
import { ActivityRecorder } from './auth/user-state.js';
import { registerConnect } from './connect/plugin.js';
import type { Database } from './db/schema.js';
import { answerClientError, registerEnvelope } from './http/envelope.js';
import { RateLimiter } from './http/rate-limit.js';
import { ErrorEnvelope } from './http/schemas.js';
import { tasksRoutes } from './tasks/routes.js';
import { tasksSchemas } from './tasks/schemas.js';
import { exportDownloadRoutes } from './users/export-routes.js';
import { lifecycleRoutes } from './users/lifecycle-routes.js';
import { lifecycleSchemas } from './users/lifecycle-schemas.js';
import { usersRoutes } from './users/routes.js';
import { usersSchemas } from './users/schemas.js';
import { v1Routes } from './v1/routes.js';
import { v1Schemas } from './v1/schemas.js';
import type { RateLimitConfig } from './config.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
export const MAX_HEADER_BYTES = 128 * 1024;

export interface AppDeps {
  db: Kysely<Database>;
  credentials: AppCredentials;
  rateLimit?: RateLimitConfig;
  logger?: Logger | false;
  /** Attempts a task gets before it is failed for good. */
  taskMaxAttempts?: number;
  /** Base of export download links; else taken from the request. */
  publicUrl?: string;
  /** Registers @fastify/swagger so that openapi.yaml can be generated from the route schemas. */
  openapi?: boolean;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true },
    // queryUsers sends its whole filter in the URL: allow more than Node's 16 KiB of request line and headers.
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    clientErrorHandler: answerClientError,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (deps.openapi) await app.register(swagger, openapiOptions);

  const limiter = new RateLimiter(deps.rateLimit?.multiplier ?? 100, deps.rateLimit?.overrides ?? {});
  registerEnvelope(app, limiter, () => deps.credentials.apiKey);
  // One recorder for HTTP requests and WebSocket connections, so last_active is written once a minute at most.
  const activity = new ActivityRecorder(deps.db);
  registerAuth(app, () => deps.credentials, deps.db, activity);

  app.addSchema(ErrorEnvelope);
  for (const schema of [...usersSchemas, ...lifecycleSchemas, ...tasksSchemas, ...appSettingsSchemas, ...v1Schemas]) app.addSchema(schema);

  app.get(
    '/healthz',
    {
      config: { public: true, rateLimited: false },
      schema: {
        operationId: 'Healthz',
        summary: 'Liveness probe',
        description: 'Answers 200 while the process serves HTTP. Needs no credentials and is not rate limited.',
        tags: ['health'],
        security: [],
        response: {
          200: {
            description: 'The server is up',
            type: 'object',
            required: ['status', 'duration'],
            properties: { status: { type: 'string', const: 'ok' }, duration: { type: 'string' } },
          },
        },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true, rateLimited: false },
      schema: {
        operationId: 'Readyz',
        summary: 'Readiness probe',
        description: 'Answers 200 when the database answers a query, 503 otherwise. Needs no credentials and is not rate limited.',
        tags: ['health'],
        security: [],
        response: {
          200: {
            description: 'The server and its database are ready',
            type: 'object',
            required: ['status', 'duration'],
            properties: { status: { type: 'string', const: 'ok' }, duration: { type: 'string' } },
          },
          503: {
            description: 'The database is unreachable',
            type: 'object',
            required: ['status'],
            properties: { status: { type: 'string', const: 'unavailable' } },
          },
        },
      },
    },
    async (_request, reply) => {
      try {
        await sql`SELECT 1`.execute(deps.db);
        return { status: 'ok' };
      } catch {
        return reply.code(503).send({ status: 'unavailable' });
      }
    },
  );

  const apiSecret = () => deps.credentials.apiSecret;
  const tasks = { maxAttempts: deps.taskMaxAttempts ?? 5 };
  const settings = new AppSettingsCache(deps.db);
  await app.register(usersRoutes, { prefix: '/api/v2', db: deps.db, credentials: () => deps.credentials, settings });
  await app.register(lifecycleRoutes, { prefix: '/api/v2', db: deps.db, tasks });
  await app.register(tasksRoutes, { prefix: '/api/v2', db: deps.db, apiSecret, publicUrl: deps.publicUrl });
  await app.register(exportDownloadRoutes, { db: deps.db, apiSecret });
  await app.register(appSettingsRoutes, { db: deps.db, settings, appName: () => deps.credentials.apiKey });
  await app.register(v1Routes, { db: deps.db, settings, credentials: () => deps.credentials, tasks, publicUrl: deps.publicUrl });
  registerConnect(app, { db: deps.db, credentials: () => deps.credentials, activity });
  return app;
}

type OpenapiDocument = {
  paths?: Record<
    string,
    Record<string, { tags?: string[]; parameters?: Array<Record<string, unknown>>; responses?: Record<string, { description?: string }> }>
  >;
  components?: { schemas?: Record<string, unknown> };
  tags?: Array<{ name: string; description?: string }>;
};

const responseDescriptions: Record<string, string> = {
  '2': 'Success',
  '4': 'The request was rejected (Stream error envelope)',
  '5': 'The server failed (Stream error envelope)',
};

/** Final touches on the generated document, so that openapi.yaml reads well and lints clean. */
function finishOpenapi<T extends object>(document: T): T {
  // A JSON copy: no object is shared between two places, so the YAML has no anchors or aliases.
  const doc = JSON.parse(JSON.stringify(document)) as OpenapiDocument;
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      // A tag some route uses but openapiOptions does not declare is listed all the same.
      for (const tag of operation.tags ?? []) if (!doc.tags?.some((t) => t.name === tag)) (doc.tags ??= []).push({ name: tag });
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.description === 'Default Response') response.description = responseDescriptions[status[0]!] ?? response.description;
      }
      // A query parameter that carries a JSON-encoded component (QueryUsers' `payload`) is described by its content.
      for (const parameter of operation.parameters ?? []) {
        const name = /^JSON-encoded (\w+)$/.exec(String(parameter.description ?? ''))?.[1];
        if (!name || !doc.components?.schemas?.[name]) continue;
        delete parameter.schema;
        parameter.content = { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } };
      }
    }
  }
  return doc as T;
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
    servers: [{ url: 'http://127.0.0.1:3030', description: 'a local server on the default port' }],
    tags: [
      { name: 'users', description: "Stream's v2 user-management endpoints" },
      { name: 'tasks', description: 'Asynchronous tasks started by the users endpoints' },
      { name: 'exports', description: "This server's signed download links for user exports" },
      { name: 'health', description: 'Probes for process supervisors and load balancers' },
      { name: 'v1', description: "Stream's v1 paths, as the stream-chat SDK calls them: custom fields flattened, RFC3339 date-times" },
    ],
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
  transformObject: ((documentObject) =>
    'openapiObject' in documentObject
      ? finishOpenapi(documentObject.openapiObject)
      : documentObject.swaggerObject) satisfies import('@fastify/swagger').SwaggerTransformObject,
};
