// JWT verification exactly as strict as Stream's: HS256 only (jose rejects `none` and every other algorithm and
// compares signatures in constant time), the app secret as the key, `exp`/`nbf`/`iat` checked when present.
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ErrorCode, StreamError } from '../http/errors.js';

const encoder = new TextEncoder();

export function secretKey(secret: string): Uint8Array {
  return encoder.encode(secret);
}

/** Seconds of clock skew tolerated on exp/nbf/iat. */
const CLOCK_TOLERANCE_S = 5;

/**
 * Tokens already verified, per key, with their claims. An SDK sends the same token with every request (a server
 * token, or a client's user token for the whole session), and verifying one through jose costs 0.15–0.25 ms of CPU
 * (measured here), a third of a small request's own time. A token is remembered only once its signature and claims
 * passed, under its exact text, for the key it passed with; the times in it (exp, nbf, iat) are checked again at
 * every use, so that a remembered token still expires. Bounded: the oldest entry goes first.
 */
const verifiedTokens = new WeakMap<Uint8Array, Map<string, Readonly<JWTPayload>>>();
const VERIFIED_TOKENS_MAX = 10_000;

export async function verifyToken(token: string, key: Uint8Array, apiKey: string, nowMs = Date.now()): Promise<Readonly<JWTPayload>> {
  let verified = verifiedTokens.get(key);
  let payload = verified?.get(token);
  if (payload) {
    checkTimes(payload, nowMs);
  } else {
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      throw tokenError(error, apiKey);
    }
    if (!verified) verifiedTokens.set(key, (verified = new Map()));
    if (verified.size >= VERIFIED_TOKENS_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, Object.freeze(payload));
  }
  if (typeof payload.iat === 'number' && payload.iat > nowMs / 1000 + CLOCK_TOLERANCE_S) {
    throw new StreamError(ErrorCode.TokenUsedBeforeIssuedAt, 'JWTAuth error: token used before issued at (iat)');
  }
  return payload;
}

/** jose's checks of nbf and exp, in its order, for a token verified earlier: the same comparisons, the same errors. */
function checkTimes(payload: Readonly<JWTPayload>, nowMs: number): void {
  const now = Math.floor(nowMs / 1000);
  if (typeof payload.nbf === 'number' && payload.nbf > now + CLOCK_TOLERANCE_S) throw notValidYet();
  if (typeof payload.exp === 'number' && payload.exp <= now - CLOCK_TOLERANCE_S) throw expired();
}

const expired = () => new StreamError(ErrorCode.TokenExpired, 'JWTAuth error: token has expired');
const notValidYet = () => new StreamError(ErrorCode.TokenNotValidYet, 'JWTAuth error: token is not valid yet');

function tokenError(error: unknown, apiKey: string): StreamError {
  if (error instanceof errors.JWTExpired) return expired();
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return notValidYet();
    return new StreamError(ErrorCode.Authentication, `JWTAuth error: ${error.message}`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new StreamError(
      ErrorCode.TokenSignatureInvalid,
      `JWTAuth error: signature is not valid. Make sure the token is created using the secret for API key "${apiKey}"`,
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new StreamError(ErrorCode.TokenSignatureInvalid, 'JWTAuth error: signing method is not HS256');
  }
  return new StreamError(ErrorCode.Authentication, 'JWTAuth error: token is malformed');
}

export async function signUserToken(userId: string, key: Uint8Array, extra: JWTPayload = {}): Promise<string> {
  return new SignJWT({ ...extra, user_id: userId }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
}

/** A server-side token, as the SDKs make it (`{server: true}`), expiring after `expiresInSeconds` when given. */
export async function signServerToken(key: Uint8Array, options: { expiresInSeconds?: number } = {}): Promise<string> {
  const jwt = new SignJWT({ server: true }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' });
  if (options.expiresInSeconds !== undefined) jwt.setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresInSeconds);
  return jwt.sign(key);
}
