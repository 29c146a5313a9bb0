// Builds the HTTP application from its parts. No process concerns here (see server.ts): tests call buildApp.
//
// A request's path: the envelope's hooks (duration, rate limit) → auth/hook.ts (who is calling, through auth/core.ts)
// → the route rendered from the operation table (api/) → the family's representation → a service → its store → SQL.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { activitySchemas } from './activity/schemas.js';
import { ActivityRecorder } from './activity/service.js';
import { docsPlugin, registerSpecRoute } from './api/docs.js';
import { openapiOptions } from './api/openapi.js';
import { registerOperations } from './api/routes.js';
import { v1Schemas } from './api/schemas-v1.js';
import { appSettingsSchemas } from './app-settings/schemas.js';
import type { AppCredentials } from './auth/core.js';
import { registerAuth } from './auth/hook.js';
import { DEFAULT_HTTP_TIMEOUTS, type ConnectLimits, type HttpTimeouts, type RateLimitConfig } from './config.js';
import { registerConnect } from './connect/plugin.js';
import { createServiceContext, type ServiceContext } from './context.js';
import { registerDashboard } from './dashboard/plugin.js';
import type { SignInLimit } from './dashboard/sign-in-limit.js';
import type { Db } from './db/schema.js';
import { snapshotRoutes } from './data/routes.js';
import { dataSchemas } from './data/schemas.js';
import { exportDownloadRoutes } from './exports/routes.js';
import { importRoutes } from './import/routes.js';
import { importSchemas } from './import/schemas.js';
import { lifecycleSchemas } from './lifecycle/schemas.js';
import { answerClientError, envelopeOf, registerEnvelope } from './http/envelope.js';
import { registerHealth } from './http/health.js';
import { OneLinePerRequest } from './http/logging.js';
import { lazyCompilersFactory } from './http/lazy-compilers.js';
import { ErrorCode, StreamError } from './http/errors.js';
import { ErrorEnvelope } from './http/schemas.js';
import type { InputLimits } from './limits.js';
import { trustFunction, type TrustProxy } from './lib/network.js';
import { Metrics } from './metrics/registry.js';
import { registerMetrics, type MetricsOptions } from './metrics/routes.js';
import { rateLimitsSchemas } from './rate-limits/schemas.js';
import { webhooksSchemas } from './webhooks/schemas.js';
import { tasksSchemas } from './tasks/schemas.js';
import { usersSchemas } from './users/schemas.js';

/** A log line about rate-limit counting falling back to local counts, at most this often. */
const FALLBACK_LOG_EVERY_MS = 10_000;

export const BODY_LIMIT_BYTES = 1024 * 1024;
export const MAX_HEADER_BYTES = 128 * 1024;
/**
 * Longest path parameter the router matches. Ids are at most 255 characters, which percent-encoding can make up to
 * 12 times longer; anything valid reaches the route (and its own validation), anything longer is refused with 414.
 */
const MAX_PARAM_LENGTH = 4096;

export interface AppDeps {
  db: Db;
  credentials: AppCredentials;
  rateLimit?: RateLimitConfig;
  /** Count rate limits in the database, so that they hold across the instances sharing it (PostgreSQL). */
  sharedRateLimits?: boolean;
  logger?: Logger | false;
  /** Attempts a task gets before it is failed for good. */
  taskMaxAttempts?: number;
  /** Base of export download links; else taken from the request. */
  publicUrl?: string;
  /** Registers @fastify/swagger so that openapi.yaml can be generated from the route schemas. */
  openapi?: boolean;
  /** Bounds on request input (README "Limits"); defaults where not given. */
  limits?: Partial<InputLimits>;
  http?: Partial<HttpTimeouts>;
  connect?: Partial<ConnectLimits>;
  /** Which proxies may name the client in X-Forwarded-For (true: the nearest one); absent: none. */
  trustProxy?: TrustProxy | boolean;
  /** The clock rate-limit windows are counted by (tests fix it). */
  now?: () => number;
  /** Serve GET /metrics (absent: not served); with a token, scrapes must present it. */
  metrics?: MetricsOptions;
  /** Where the metrics read the pool and the task queue; the worker and dispatcher report through app.metrics. */
  poolState?: () => { total: number; idle: number; waiting: number };
  /** Serve DELETE /operator/data, which empties the data (memory mode, or ALLOW_CLEAR=on). */
  allowClear?: boolean;
  /** Whether the LISTEN connections deliver notifications now (reported by /readyz). */
  listening?: () => boolean;
  /** Serve the API reference at /docs (default true). */
  docs?: boolean;
  /** The operator dashboard at /dashboard (README "Dashboard"); absent: not served. */
  dashboard?: {
    /** Session lifetime; 8 hours by default. */
    sessionMs?: number;
    /** Failed sign-ins per client address and window; 10 in 15 minutes by default. */
    signInLimit?: SignInLimit;
    /** The clock of sessions and the sign-in limit (tests move it). */
    now?: () => number;
    /** Served only to requests from this machine (DASHBOARD unset). */
    localOnly?: boolean;
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The services' context, shared with what runs beside the HTTP routes (the worker's task handlers). */
    services: ServiceContext;
    /** The Prometheus registry when /metrics is served, for what runs beside the routes to report to. */
    metrics: Metrics | undefined;
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...deps.http };
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    logController: new OneLinePerRequest(),
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    http: {
      // queryUsers sends its whole filter in the URL: allow more than Node's 16 KiB of request line and headers.
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: timeouts.headersTimeoutMs,
      // How often Node looks for requests over their time: often enough that a slow client is cut off on time.
      connectionsCheckingInterval: Math.max(250, Math.min(timeouts.requestTimeoutMs, timeouts.headersTimeoutMs) / 4),
    },
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    // A function, so that a hop count means hops (Fastify ignores X-Forwarded-For for a bare number) and `true` means
    // the nearest proxy only, never the left-most entry, which the client writes.
    trustProxy: trustFunction(deps.trustProxy),
    // While closing, a request that arrives on an open connection is still answered (with Connection: close), not
    // refused with Fastify's own 503: the database closes only after the HTTP server has.
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    // A URL the router cannot take (malformed percent-encoding, a path parameter past MAX_PARAM_LENGTH) still gets
    // Stream's envelope.
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const refusal = new StreamError(ErrorCode.Input, tooLong ? 'a path parameter is too long' : 'the URL is malformed', { statusCode: tooLong ? 414 : 400 });
      (reply as FastifyReply)
        .code(refusal.statusCode)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(envelopeOf('Request', refusal, request.startedAt || process.hrtime.bigint())));
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // Each route's validators and serializers are compiled on its first request, not at start (http/lazy-compilers.ts).
    schemaController: { compilersFactory: lazyCompilersFactory() },
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (deps.openapi) await app.register(swagger, openapiOptions);

  const ctx = createServiceContext(deps);
  app.decorate('services', ctx);

  registerEnvelope(app, ctx.limits);
  // One recorder for HTTP requests and WebSocket connections, so last_active is written once a minute at most.
  const activity = new ActivityRecorder(deps.db);
  registerAuth(app, { ctx, activity });

  app.addSchema(ErrorEnvelope);
  for (const schema of [...usersSchemas, ...lifecycleSchemas, ...tasksSchemas, ...appSettingsSchemas, ...activitySchemas, ...rateLimitsSchemas, ...webhooksSchemas, ...dataSchemas, ...importSchemas, ...v1Schemas]) {
    app.addSchema(schema);
  }

  registerHealth(app, deps.db, deps.listening);
  registerOperations(app, { ctx, publicUrl: deps.publicUrl });
  await app.register(exportDownloadRoutes, { ctx });
  await app.register(importRoutes, { ctx });
  await app.register(snapshotRoutes, { ctx });
  const hub = registerConnect(app, { ctx, activity, limits: deps.connect, trustProxy: deps.trustProxy });
  ctx.clearing.listeners.add(() => hub.closeAll('the data was cleared'));

  registerSpecRoute(app);
  // Generating openapi.yaml registers @fastify/swagger over the live routes; the page renders the checked-in file.
  if ((deps.docs ?? true) && !deps.openapi) await app.register(docsPlugin);
  const metrics = deps.metrics ? new Metrics({ db: deps.db, poolState: deps.poolState, connections: () => hub.size }) : undefined;
  app.decorate('metrics', metrics);
  if (metrics) registerMetrics(app, metrics, deps.metrics!);
  // A reservation of rate-limit budget that does not answer in time lets the call go on, counted locally: say so
  // (a metric per call, a log line at most every 10 s).
  let lastFallbackLog = 0;
  ctx.rateLimits.onLocalFallback(({ bucket, reason, error }) => {
    metrics?.rateLimitFallbacks.inc({ reason });
    if (Date.now() - lastFallbackLog < FALLBACK_LOG_EVERY_MS) return;
    lastFallbackLog = Date.now();
    app.log.warn(
      { err: error, operation: bucket.slice(bucket.lastIndexOf(':') + 1), reason },
      'the shared rate-limit counter did not answer in time; calls are counted locally and added to it later',
    );
  });
  if (deps.dashboard) await registerDashboard(app, { ctx, publicUrl: deps.publicUrl, ...deps.dashboard });
  return app;
}
