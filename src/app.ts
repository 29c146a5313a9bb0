// Builds the HTTP application from its parts. No process concerns here (see server.ts): tests call buildApp.
//
// A request's path: the envelope's hooks (duration, rate limit) → auth/hook.ts (who is calling, through auth/core.ts)
// → the route rendered from the operation table (api/) → the family's representation → a service → its store → SQL.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { activitySchemas } from './activity/schemas.js';
import { ActivityRecorder } from './activity/service.js';
import { openapiOptions } from './api/openapi.js';
import { registerOperations } from './api/routes.js';
import { v1Schemas } from './api/schemas-v1.js';
import { appSettingsSchemas } from './app-settings/schemas.js';
import type { AppCredentials } from './auth/core.js';
import { registerAuth } from './auth/hook.js';
import type { RateLimitConfig } from './config.js';
import { registerConnect } from './connect/plugin.js';
import { createServiceContext, type ServiceContext } from './context.js';
import type { Db } from './db/schema.js';
import { exportDownloadRoutes } from './exports/routes.js';
import { lifecycleSchemas } from './lifecycle/schemas.js';
import { answerClientError, registerEnvelope } from './http/envelope.js';
import { registerHealth } from './http/health.js';
import { RateLimiter } from './http/rate-limit.js';
import { ErrorEnvelope } from './http/schemas.js';
import { tasksSchemas } from './tasks/schemas.js';
import { usersSchemas } from './users/schemas.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
export const MAX_HEADER_BYTES = 128 * 1024;

export interface AppDeps {
  db: Db;
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

declare module 'fastify' {
  interface FastifyInstance {
    /** The services' context, shared with what runs beside the HTTP routes (the worker's task handlers). */
    services: ServiceContext;
  }
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

  const ctx = createServiceContext(deps);
  app.decorate('services', ctx);

  const limiter = new RateLimiter(deps.rateLimit?.multiplier ?? 100, deps.rateLimit?.overrides ?? {});
  registerEnvelope(app, limiter, () => deps.credentials.apiKey);
  // One recorder for HTTP requests and WebSocket connections, so last_active is written once a minute at most.
  const activity = new ActivityRecorder(deps.db);
  registerAuth(app, ctx.credentials, deps.db, activity);

  app.addSchema(ErrorEnvelope);
  for (const schema of [...usersSchemas, ...lifecycleSchemas, ...tasksSchemas, ...appSettingsSchemas, ...activitySchemas, ...v1Schemas]) {
    app.addSchema(schema);
  }

  registerHealth(app, deps.db);
  registerOperations(app, { ctx, publicUrl: deps.publicUrl });
  await app.register(exportDownloadRoutes, { ctx });
  registerConnect(app, { ctx, activity });
  return app;
}
