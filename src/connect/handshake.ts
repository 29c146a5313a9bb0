// Reads a WebSocket connect request the way stream-chat opens it (reference §7.1): everything travels in the query
// string, `/connect?json=…&api_key=…&authorization=…&stream-auth-type=jwt|anonymous&X-Stream-Client=…`, where
// `json` is `{user_id, user_details, client_request_id, device?}`. Authentication follows the HTTP rules of
// auth/plugin.ts; the user's stored state (deactivated, deleted, revoked tokens) is checked afterwards, by the caller.
import { timingSafeEqual } from 'node:crypto';
import type { AppCredentials } from '../auth/plugin.js';
import { verifyToken } from '../auth/jwt.js';
import { ErrorCode, StreamError, inputError } from '../http/errors.js';
import { checkUserId } from '../users/validation.js';

export type ConnectCaller =
  | { kind: 'user'; userId: string; issuedAt: number | undefined; details: Record<string, unknown> }
  | { kind: 'anonymous' };

/** The WebSocket endpoint's path. Duplicate and trailing slashes are tolerated, as on the HTTP routes. */
export function isConnectPath(url: string | undefined): boolean {
  if (!url) return false;
  const path = url.split('?', 1)[0]!.replace(/\/{2,}/g, '/');
  return path === '/connect' || path === '/connect/';
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates the connect request's credentials and payload; throws the StreamError the client is rejected with. */
export async function authenticateConnect(url: string, credentials: AppCredentials): Promise<ConnectCaller> {
  const params = new URL(url, 'http://localhost').searchParams;

  const apiKey = params.get('api_key');
  if (!apiKey) throw new StreamError(ErrorCode.AccessKey, 'api_key not provided');
  if (!sameString(apiKey, credentials.apiKey)) throw new StreamError(ErrorCode.AccessKey, 'api_key is invalid');

  const authType = params.get('stream-auth-type')?.toLowerCase();
  if (authType !== 'jwt' && authType !== 'anonymous') {
    throw new StreamError(ErrorCode.Authentication, 'stream-auth-type missing or invalid');
  }

  const rawJson = params.get('json');
  if (!rawJson) throw inputError('json is a required query parameter');
  let payload: unknown;
  try {
    payload = JSON.parse(rawJson);
  } catch {
    throw inputError('json must be a JSON object {user_id, user_details}');
  }
  if (!isPlainObject(payload)) throw inputError('json must be a JSON object {user_id, user_details}');

  // Anonymous: stream-chat sends a random user_id and `{id, anon: true}`, with an empty authorization. None of it is
  // used: the connection acts as the anonymous user and writes nothing.
  if (authType === 'anonymous') return { kind: 'anonymous' };

  // stream-chat interpolates the token into the URL, so a missing one arrives as "" or "undefined".
  const header = params.get('authorization')?.trim().replace(/^Bearer\s+/i, '') ?? '';
  if (header === '' || header === 'undefined' || header === 'null') {
    throw new StreamError(ErrorCode.Authentication, 'authorization is missing: a user token is required with stream-auth-type jwt');
  }
  const claims = await verifyToken(header, credentials.key, credentials.apiKey);
  if (claims.server === true) {
    // A connection is a user's; stream-chat itself always connects with a user token, even server-side.
    throw new StreamError(ErrorCode.Authentication, 'a server-side token can not open a connection, use a user token');
  }
  const tokenUser = claims.user_id;
  if (typeof tokenUser !== 'string' || tokenUser === '') {
    throw new StreamError(ErrorCode.Authentication, 'JWTAuth error: token has neither server nor user_id claim');
  }

  const details = payload.user_details === undefined || payload.user_details === null ? {} : payload.user_details;
  if (!isPlainObject(details)) throw inputError('user_details must be an object');
  const userId = payload.user_id ?? details.id ?? tokenUser;
  checkUserId(userId);
  if (details.id !== undefined && details.id !== userId) {
    throw inputError(`user_details.id "${String(details.id)}" does not match user_id "${String(userId)}"`);
  }
  // A token for another user is valid (its signature is right), so this is not code 43: it is an authentication
  // failure, code 5, as for any token that does not entitle its bearer to what it asks. stream-chat checks the same
  // on its side before it connects, so only hand-made clients get here.
  if (userId !== tokenUser) {
    throw new StreamError(ErrorCode.Authentication, `the token is for user "${tokenUser}", not for the connecting user "${String(userId)}"`);
  }
  return {
    kind: 'user',
    userId: tokenUser,
    issuedAt: typeof claims.iat === 'number' ? claims.iat : undefined,
    details,
  };
}
