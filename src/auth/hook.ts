// Authentication of Stream's HTTP paths: the api_key query parameter, `stream-auth-type` and the JWT in
// `Authorization`, decided by auth/core.ts. Puts `request.caller` on the request; each route declares which callers
// it accepts besides server-side ones (`config.access`).
import type { FastifyInstance } from 'fastify';
import type { ActivityRecorder } from '../activity/service.js';
import type { Db } from '../db/schema.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { checkUserToken, identifyCaller, type AppCredentials, type Caller, type CallerKind } from './core.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** Callers besides server-side ones that this route accepts. */
    access?: readonly CallerKind[];
    /** Routes outside Stream's API (health, downloads) skip authentication. */
    public?: boolean;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function registerAuth(app: FastifyInstance, credentials: () => AppCredentials, db: Db, activity: ActivityRecorder) {
  app.decorateRequest('caller', null as unknown as { kind: 'server' });
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    // Unknown routes answer 404 before any credential check, as do public routes.
    if (config?.public || request.is404) return;
    const apiKey = (request.query as Record<string, unknown> | undefined)?.api_key;
    const caller = await identifyCaller(credentials(), {
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
      authType: single(request.headers['stream-auth-type']),
      token: single(request.headers.authorization),
    });
    if (caller.kind === 'user') await checkUserToken(db, caller);
    if (caller.kind !== 'server' && !(config?.access ?? []).includes(caller.kind)) {
      throw new StreamError(
        ErrorCode.NotAllowed,
        caller.kind === 'anonymous'
          ? 'anonymous users are not allowed to perform this action'
          : `user "${caller.userId}" is not allowed to perform this action, it requires server-side auth`,
      );
    }
    request.caller = caller;
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
