// GET /metrics for Prometheus, and the hook that counts every answered request. With a token configured
// (METRICS_TOKEN), a scrape must send `Authorization: Bearer <token>` and anything else gets a 401 envelope; without
// one, /metrics answers only requests from this machine, decided per request (else it does not exist: 404).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, StreamError } from '../http/errors.js';
import { withErrors } from '../http/schemas.js';
import { isLocalRequest } from '../lib/network.js';
import type { Metrics } from './registry.js';

export interface MetricsOptions {
  /** Bearer token scrapes must present. */
  token?: string;
  /**
   * Without a token: whether /metrics answers only requests from this machine (lib/network.ts isLocalRequest), any
   * other getting 404 as an unknown URL; PUBLIC_URL's host counts as a local name.
   */
  localOnly?: { publicUrl?: string };
}

/** The label an answered request is counted under: Stream's OperationId, else the route, else "unmatched". */
function operationLabel(request: FastifyRequest): string {
  const config = request.routeOptions.config as { operation?: string } | undefined;
  const schema = request.routeOptions.schema as { operationId?: string } | undefined;
  if (config?.operation) return config.operation;
  if (schema?.operationId) return schema.operationId;
  // Unmatched URLs are one label, not one per URL a scanner tries.
  return request.is404 || !request.routeOptions.url ? 'unmatched' : request.routeOptions.url;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerMetrics(app: FastifyInstance, metrics: Metrics, options: MetricsOptions) {
  app.addHook('onResponse', async (request, reply) => {
    const operation = operationLabel(request);
    const status = String(reply.statusCode);
    metrics.httpRequests.inc({ operation, method: request.method, status });
    metrics.httpDuration.observe({ operation, method: request.method }, reply.elapsedTime / 1000);
    if (reply.statusCode === 429) metrics.rateLimitRejections.inc({ operation, caller: request.caller?.kind ?? 'refused' });
  });

  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: {
        operationId: 'GetMetrics',
        summary: 'Prometheus metrics',
        description:
          'Metrics in the Prometheus text format (README "Operating"). With METRICS_TOKEN set, needs `Authorization: Bearer <token>`; ' +
          'without it, served only when the server listens on a loopback address. Not rate limited.',
        tags: ['operations'],
        security: [{ metrics_token: [] }],
        response: withErrors({ 200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } } as never }),
      },
    },
    async (request, reply) => {
      if (options.token === undefined && options.localOnly && !isLocalRequest(request.raw, options.localOnly.publicUrl)) {
        throw new StreamError(ErrorCode.DoesNotExist, `${request.method} ${request.url.split('?')[0]} is not a known endpoint`);
      }
      if (options.token !== undefined && !bearerMatches(request.headers.authorization, options.token)) {
        throw new StreamError(ErrorCode.Authentication, 'the metrics need Authorization: Bearer <METRICS_TOKEN>', { statusCode: 401 });
      }
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
}
