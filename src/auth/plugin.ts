// Authentication for Stream's paths: the api_key query parameter, then `stream-auth-type` and the JWT in
// `Authorization`. Puts `request.auth` on the request; each route declares which callers it accepts
// (server-side by default).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, StreamError } from '../http/errors.js';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { verifyToken } from './jwt.js';
import { ActivityRecorder, checkUserToken } from './user-state.js';

export type Caller =
  | { kind: 'server' }
  | { kind: 'user'; userId: string; issuedAt: number | undefined }
  | { kind: 'anonymous' };

export type CallerKind = Caller['kind'];

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

export interface AppCredentials {
  apiKey: string;
  apiSecret: string;
  /** The secret as HMAC key bytes. */
  key: Uint8Array;
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Server tokens already verified, per app (credentials object): a token is only ever good for the secret it was checked with. */
const verifiedServerTokens = new WeakMap<AppCredentials, Set<string>>();

export async function authenticate(request: FastifyRequest, credentials: AppCredentials): Promise<Caller> {
  const query = request.query as Record<string, unknown> | undefined;
  const apiKey = query?.api_key;
  if (typeof apiKey !== 'string' || apiKey === '') throw new StreamError(ErrorCode.AccessKey, 'api_key not provided');
  if (!sameString(apiKey, credentials.apiKey)) throw new StreamError(ErrorCode.AccessKey, 'api_key is invalid');

  const authType = single(request.headers['stream-auth-type'])?.toLowerCase();
  if (authType === 'anonymous') return { kind: 'anonymous' };
  if (authType !== 'jwt') throw new StreamError(ErrorCode.Authentication, 'stream-auth-type missing or invalid');

  const header = single(request.headers.authorization)?.trim();
  if (!header) throw new StreamError(ErrorCode.Authentication, 'Authorization header is missing');
  const token = header.replace(/^Bearer\s+/i, '');
  // SDKs make their server token once and send it with every request: verify each distinct one once. (Only tokens
  // without exp/nbf are remembered, so a remembered token can never have become invalid.)
  let verified = verifiedServerTokens.get(credentials);
  if (verified?.has(token)) return { kind: 'server' };
  const claims = await verifyToken(token, credentials.key, credentials.apiKey);
  if (claims.server === true) {
    if (claims.exp === undefined && claims.nbf === undefined) {
      if (!verified) verifiedServerTokens.set(credentials, (verified = new Set()));
      if (verified.size >= 1000) verified.clear();
      verified.add(token);
    }
    return { kind: 'server' };
  }
  if (typeof claims.user_id === 'string' && claims.user_id !== '') {
    return { kind: 'user', userId: claims.user_id, issuedAt: typeof claims.iat === 'number' ? claims.iat : undefined };
  }
  throw new StreamError(ErrorCode.Authentication, 'JWTAuth error: token has neither server nor user_id claim');
}

export function registerAuth(
  app: FastifyInstance,
  credentials: () => AppCredentials,
  db: Kysely<Database>,
  activity: ActivityRecorder,
) {
  app.decorateRequest('caller', null as unknown as { kind: 'server' });
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    // Unknown routes answer 404 before any credential check, as do public routes.
    if (config?.public || request.is404) return;
    const caller = await authenticate(request, credentials());
    // A user token is worth what its user's state says now: deactivated, deleted and revoked tokens are refused.
    if (caller.kind === 'user') await checkUserToken(db, caller.userId, caller.issuedAt);
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
