// Who is calling, decided in one place for HTTP requests and WebSocket connects alike: the api_key, then
// `stream-auth-type`, then the JWT (auth/jwt.ts); and what a user token is worth at this moment, from its user's
// stored state and the revocation cut-offs. The HTTP hook (hook.ts), the WebSocket handshake and the hub's periodic
// re-checks all call these functions.
import { timingSafeEqual } from 'node:crypto';
import type { ServiceContext } from '../context.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { secretKey, verifyToken } from './jwt.js';
import { isValidUserId } from '../users/validation.js';
import { readTokenStates, type TokenState } from './store.js';

export type Caller =
  | { kind: 'server' }
  | { kind: 'user'; userId: string; issuedAt: number | undefined }
  | { kind: 'anonymous' };

export type CallerKind = Caller['kind'];

export interface AppCredentials {
  apiKey: string;
  apiSecret: string;
  /** The secret as HMAC key bytes. */
  key: Uint8Array;
}

export function credentialsOf(apiKey: string, apiSecret: string): AppCredentials {
  return { apiKey, apiSecret, key: secretKey(apiSecret) };
}

/** Compares in constant time, so that a wrong key or secret gives away nothing of the right one. */
export function sameSecret(given: string, expected: string): boolean {
  const left = Buffer.from(given);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** What a request or connect presents, as the transport carries it. */
export interface Presented {
  apiKey: string | undefined;
  authType: string | undefined;
  /** The JWT, with or without a `Bearer ` prefix; empty or absent when none was sent. */
  token: string | undefined;
}

/** The caller a request or connect presents itself as; throws the StreamError it is refused with. */
export async function identifyCaller(credentials: AppCredentials, presented: Presented): Promise<Caller> {
  const { apiKey } = presented;
  if (typeof apiKey !== 'string' || apiKey === '') throw new StreamError(ErrorCode.AccessKey, 'api_key not provided');
  if (!sameSecret(apiKey, credentials.apiKey)) throw new StreamError(ErrorCode.AccessKey, 'api_key is invalid');

  const authType = presented.authType?.toLowerCase();
  if (authType === 'anonymous') return { kind: 'anonymous' };
  if (authType !== 'jwt') throw new StreamError(ErrorCode.Authentication, 'stream-auth-type missing or invalid');

  const token = (presented.token ?? '').trim().replace(/^Bearer\s+/i, '');
  if (token === '') throw new StreamError(ErrorCode.Authentication, 'authorization is missing: a token is required with stream-auth-type jwt');
  const claims = await verifyToken(token, credentials.key, credentials.apiKey);
  if (claims.server === true) return { kind: 'server' };
  if (typeof claims.user_id === 'string' && claims.user_id !== '') {
    // Signed with the secret, but for no user there can be: nothing a request does may run for it.
    if (!isValidUserId(claims.user_id)) throw new StreamError(ErrorCode.Authentication, 'JWTAuth error: the token\'s user_id is not a valid user id');
    return { kind: 'user', userId: claims.user_id, issuedAt: typeof claims.iat === 'number' ? claims.iat : undefined };
  }
  throw new StreamError(ErrorCode.Authentication, 'JWTAuth error: token has neither server nor user_id claim');
}

/** A user token as the checks see it. */
export interface UserToken {
  userId: string;
  issuedAt: number | undefined;
}

/**
 * A token issued before `cutoff` (microseconds): iat has whole seconds, so a token issued in the second of the cut-off
 * itself counts as issued at it, not before.
 */
function issuedBefore(token: UserToken, cutoff: bigint): boolean {
  return BigInt(Math.trunc(token.issuedAt!)) < cutoff / 1_000_000n;
}

/** The rule: why a user token is refused given its user's state, or undefined when it is good. */
function tokenRefusal(token: UserToken, state: TokenState): StreamError | undefined {
  if (state.deleted_at !== null) return new StreamError(ErrorCode.Authentication, `user "${token.userId}" was deleted`);
  if (state.deactivated_at !== null) return new StreamError(ErrorCode.Authentication, `user "${token.userId}" was deactivated`);
  // A user of this id was hard deleted: tokens from before (and tokens without iat, which could be from before) are
  // that user's, whatever stands under the id now.
  if (state.tombstone_at !== null && (token.issuedAt === undefined || issuedBefore(token, state.tombstone_at))) {
    return new StreamError(ErrorCode.Authentication, `user "${token.userId}" was deleted`);
  }
  for (const cutoff of [state.user_cutoff, state.app_cutoff]) {
    if (cutoff === null) continue;
    if (token.issuedAt === undefined) {
      return new StreamError(ErrorCode.TokenExpired, 'JWTAuth error: tokens without an iat claim are not valid while tokens are revoked');
    }
    if (issuedBefore(token, cutoff)) return new StreamError(ErrorCode.TokenExpired, 'JWTAuth error: token has been revoked');
  }
  return undefined;
}

type TokenContext = Pick<ServiceContext, 'db' | 'tombstones'>;

async function tokenStates(ctx: TokenContext, tokens: readonly UserToken[]): Promise<TokenState[]> {
  const ids = tokens.map((token) => token.userId);
  const hashes = await ctx.tombstones.hashes(ctx.db, ids);
  return readTokenStates(ctx.db, ids.map((id, i) => ({ id, hash: hashes[i]! })));
}

/** The refusal of each token (undefined: still good), read in one statement: for the periodic re-check of live sockets. */
export async function refusedTokens(ctx: TokenContext, tokens: readonly UserToken[]): Promise<Array<StreamError | undefined>> {
  const states = await tokenStates(ctx, tokens);
  return tokens.map((token, i) => tokenRefusal(token, states[i]!));
}

/**
 * What a user token is worth now: refused when its user is deactivated or deleted (or was hard deleted after the token
 * was issued), or when it was issued before a revocation cut-off. Checked on every request and connect from the stored
 * state, so that reactivation, restore or clearing a cut-off gives the access back at once. Returns the user's state
 * (its teams and role, for access rules).
 */
export async function checkUserToken(ctx: TokenContext, token: UserToken): Promise<TokenState> {
  const [state] = await tokenStates(ctx, [token]);
  const refusal = tokenRefusal(token, state!);
  if (refusal) throw refusal;
  return state!;
}
