// Authentication and rate limiting of Stream's HTTP paths. Who is calling is decided by auth/core.ts (the api_key
// query parameter, `stream-auth-type`, the JWT in `Authorization`); only then is the call counted, against the
// caller's own budgets (rate-limits/service.ts), so that no caller can spend another's. A refused request counts
// against its client address only. Puts `request.caller` on the request; each route declares which callers it
// accepts besides server-side ones (`config.access`).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ActivityRecorder } from '../activity/service.js';
import type { ServiceContext } from '../context.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { platformOf, type RateDecision } from '../rate-limits/service.js';
import { checkUserToken, identifyCaller, type Caller, type CallerKind } from './core.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** Callers besides server-side ones that this route accepts. */
    access?: readonly CallerKind[];
    /** Routes outside Stream's API (health, downloads, docs) skip authentication and rate limits. */
    public?: boolean;
    /** Stream's OperationId: error messages and rate-limit buckets (else the schema's operationId). */
    operation?: string;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function setRateHeaders(reply: FastifyReply, decision: RateDecision) {
  reply.header('X-RateLimit-Limit', String(decision.limit));
  reply.header('X-RateLimit-Remaining', String(decision.remaining));
  reply.header('X-RateLimit-Reset', String(decision.reset));
  if (!decision.allowed) reply.header('Retry-After', String(decision.retryAfterSeconds));
}

const tooManyRequests = () => new StreamError(ErrorCode.RateLimit, 'Too many requests, check response headers for more information.');

export interface AuthDeps {
  ctx: ServiceContext;
  activity: ActivityRecorder;
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps) {
  const { ctx, activity } = deps;
  const { rateLimits } = ctx;
  const { credentials } = ctx;

  /** Who is calling, and whether this route accepts them; throws the StreamError the request is refused with. */
  async function admit(query: unknown, headers: Record<string, string | string[] | undefined>, access: readonly CallerKind[]): Promise<Caller> {
    const apiKey = (query as Record<string, unknown> | undefined)?.api_key;
    const caller = await identifyCaller(credentials(), {
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
      authType: single(headers['stream-auth-type']),
      token: single(headers.authorization),
    });
    if (caller.kind === 'user') await checkUserToken(ctx, caller);
    if (caller.kind !== 'server' && !access.includes(caller.kind)) {
      throw new StreamError(
        ErrorCode.NotAllowed,
        caller.kind === 'anonymous'
          ? 'anonymous users are not allowed to perform this action'
          : `user "${caller.userId}" is not allowed to perform this action, it requires server-side auth`,
      );
    }
    return caller;
  }

  app.decorateRequest('caller', null as unknown as { kind: 'server' });
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    // Unknown routes answer 404 before any credential check, as do public routes.
    if (config?.public || request.is404) return;
    let caller: Caller;
    try {
      caller = await admit(request.query, request.headers, config?.access ?? []);
    } catch (error) {
      if (error instanceof StreamError && rateLimits.enabled) {
        const decision = rateLimits.takeForAddress(request.ip);
        setRateHeaders(reply, decision);
        if (!decision.allowed) throw tooManyRequests();
      }
      throw error;
    }
    request.caller = caller;
    if (!rateLimits.enabled) return;
    const operation = config?.operation ?? 'Request';
    const platform = platformOf(single(request.headers['x-stream-client']));
    const decision =
      caller.kind === 'anonymous'
        ? await rateLimits.takeAnonymous(request.ip, platform, operation)
        : await rateLimits.take(caller, caller.kind === 'server' ? 'server_side' : platform, operation);
    setRateHeaders(reply, decision);
    if (!decision.allowed) throw tooManyRequests();
  });
  // Activity is recorded once the request has succeeded (so that a user created by this very request counts), and
  // before the response leaves, so a client reading its user next sees last_active.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.caller?.kind === 'user' && reply.statusCode < 400) {
      await activity.record(request.caller.userId).catch((error) => request.log.warn({ err: error }, 'recording activity failed'));
    }
    return payload;
  });
}
