// The operator's session: a short-lived JWT (HS256 only) in an HttpOnly, SameSite=Strict cookie, signed with a key
// derived from the API secret (HKDF), so that changing the secret ends every session. It holds a random session id
// and nothing else of value: no secret, no API token. The CSRF token of a session is an HMAC of its id under a second
// derived key, so it needs no storage and is worthless without the cookie it belongs to.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';

export const SESSION_COOKIE = 'dashboard_session';
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const AUDIENCE = 'stream-users-dashboard';
/** A cookie value longer than this is not one of ours; it is refused before any parsing. */
const MAX_TOKEN_LENGTH = 1024;
const SID = /^[A-Za-z0-9_-]{22}$/;

export interface DashboardKeys {
  session: Uint8Array;
  csrf: Buffer;
}

const keysBySecret = new Map<string, DashboardKeys>();

/** The keys of the dashboard, derived from the API secret. */
export function dashboardKeys(apiSecret: string): DashboardKeys {
  let keys = keysBySecret.get(apiSecret);
  if (!keys) {
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', apiSecret, 'stream-users-server dashboard', info, 32));
    keys = { session: new Uint8Array(derive('session signing key v1')), csrf: derive('csrf token key v1') };
    if (keysBySecret.size > 16) keysBySecret.clear();
    keysBySecret.set(apiSecret, keys);
  }
  return keys;
}

export interface Session {
  sid: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
}

/** A new session's cookie value, valid for `lifetimeMs` from `nowMs`. */
export async function signSession(keys: DashboardKeys, nowMs: number, lifetimeMs: number): Promise<{ token: string; session: Session }> {
  const sid = randomBytes(16).toString('base64url');
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = issuedAt + Math.max(1, Math.floor(lifetimeMs / 1000));
  const token = await new SignJWT({ sid })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(keys.session);
  return { token, session: { sid, issuedAt, expiresAt } };
}

/**
 * The session a cookie value holds, or undefined: a token that is not ours (another algorithm, another key, another
 * audience), expired, issued in the future, or malformed.
 */
export async function verifySession(keys: DashboardKeys, token: string, nowMs: number): Promise<Session | undefined> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
  try {
    const { payload } = await jwtVerify(token, keys.session, {
      algorithms: ['HS256'],
      audience: AUDIENCE,
      requiredClaims: ['sid', 'iat', 'exp'],
      currentDate: new Date(nowMs),
      clockTolerance: 0,
    });
    const { sid, iat, exp } = payload;
    if (typeof sid !== 'string' || !SID.test(sid) || typeof iat !== 'number' || typeof exp !== 'number') return undefined;
    // Not issued later than now (a few seconds of skew between processes allowed).
    if (iat > nowMs / 1000 + 5) return undefined;
    return { sid, issuedAt: iat, expiresAt: exp };
  } catch {
    return undefined;
  }
}

/** The CSRF token of a session: forms carry it in `_csrf`, htmx requests in the X-CSRF-Token header. */
export function csrfToken(keys: DashboardKeys, session: Session): string {
  return createHmac('sha256', keys.csrf).update(`csrf:${session.sid}`).digest('base64url');
}

export function csrfMatches(keys: DashboardKeys, session: Session, given: unknown): boolean {
  if (typeof given !== 'string' || given.length > 128) return false;
  const expected = Buffer.from(csrfToken(keys, session));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The value of the session cookie in a Cookie header (the first one, when a client sends several). */
export function sessionCookieOf(header: string | undefined): string | undefined {
  if (!header || header.length > 16_384) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === SESSION_COOKIE) return part.slice(index + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  /** Secure: whenever the public URL is https. */
  secure: boolean;
}

/** Set-Cookie for a session: HttpOnly, SameSite=Strict, only sent to the dashboard's paths, gone when it expires. */
export function sessionCookie(token: string, maxAgeSeconds: number, options: CookieOptions): string {
  return `${SESSION_COOKIE}=${token}; Path=/dashboard; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}

/** Set-Cookie that removes the session cookie. */
export function clearedSessionCookie(options: CookieOptions): string {
  return `${SESSION_COOKIE}=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}

