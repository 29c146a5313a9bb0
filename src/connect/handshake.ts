// Reads a WebSocket connect request the way stream-chat opens it (reference §7.1): everything travels in the query
// string, `/connect?json=…&api_key=…&authorization=…&stream-auth-type=jwt|anonymous&X-Stream-Client=…`, where
// `json` is `{user_id, user_details, client_request_id, device?}`. Who is connecting is decided by auth/core.ts, as
// for HTTP requests; the user's stored state is checked afterwards (connect/service.ts admitUser).
import { identifyCaller, type AppCredentials } from '../auth/core.js';
import { ErrorCode, StreamError, inputError } from '../http/errors.js';
import { isPlainObject } from '../lib/json.js';
import { parseRequestJson, type InputLimits } from '../limits.js';
import { checkUserId } from '../users/validation.js';

export type ConnectCaller =
  | { kind: 'user'; userId: string; issuedAt: number | undefined; details: Record<string, unknown>; client: string | undefined }
  | { kind: 'anonymous' };

/** The WebSocket endpoint's path. Duplicate and trailing slashes are tolerated, as on the HTTP routes. */
export function isConnectPath(url: string | undefined): boolean {
  if (!url) return false;
  const path = url.split('?', 1)[0]!.replace(/\/{2,}/g, '/');
  return path === '/connect' || path === '/connect/';
}

/** Whether a connect asks to be anonymous (`stream-auth-type=anonymous`), as identifyCaller will take it. */
export function isAnonymousConnect(url: string | undefined): boolean {
  if (!url) return false;
  try {
    return new URL(url, 'http://localhost').searchParams.get('stream-auth-type')?.toLowerCase() === 'anonymous';
  } catch {
    return false;
  }
}

/** Validates the connect request's credentials and payload; throws the StreamError the client is rejected with. */
export async function authenticateConnect(url: string, credentials: AppCredentials, limits: InputLimits): Promise<ConnectCaller> {
  const params = new URL(url, 'http://localhost').searchParams;
  // stream-chat interpolates the token into the URL, so a missing one arrives as "" or "undefined".
  const token = params.get('authorization')?.trim();
  const caller = await identifyCaller(credentials, {
    apiKey: params.get('api_key') ?? undefined,
    authType: params.get('stream-auth-type') ?? undefined,
    token: token === 'undefined' || token === 'null' ? undefined : token,
  });

  const rawJson = params.get('json');
  if (!rawJson) throw inputError('json is a required query parameter');
  const payload = parseRequestJson(rawJson, limits, 'json');
  if (!isPlainObject(payload)) throw inputError('json must be a JSON object {user_id, user_details}');

  // Anonymous: stream-chat sends a random user_id and `{id, anon: true}`, with an empty authorization. None of it is
  // used: the connection acts as the anonymous user and writes nothing.
  if (caller.kind === 'anonymous') return { kind: 'anonymous' };
  if (caller.kind === 'server') {
    // A connection is a user's; stream-chat itself always connects with a user token, even server-side.
    throw new StreamError(ErrorCode.Authentication, 'a server-side token can not open a connection, use a user token');
  }

  const details = payload.user_details === undefined || payload.user_details === null ? {} : payload.user_details;
  if (!isPlainObject(details)) throw inputError('user_details must be an object');
  const userId = payload.user_id ?? details.id ?? caller.userId;
  checkUserId(userId);
  if (details.id !== undefined && details.id !== userId) {
    throw inputError(`user_details.id "${String(details.id)}" does not match user_id "${String(userId)}"`);
  }
  // A token for another user is valid (its signature is right), so this is not code 43: it is an authentication
  // failure, code 5, as for any token that does not entitle its bearer to what it asks. stream-chat checks the same
  // on its side before it connects, so only hand-made clients get here.
  if (userId !== caller.userId) {
    throw new StreamError(ErrorCode.Authentication, `the token is for user "${caller.userId}", not for the connecting user "${String(userId)}"`);
  }
  return { kind: 'user', userId: caller.userId, issuedAt: caller.issuedAt, details, client: params.get('X-Stream-Client') ?? undefined };
}
