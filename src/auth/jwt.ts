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

export async function verifyToken(token: string, key: Uint8Array, apiKey: string, nowMs = Date.now()): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(nowMs),
    }));
  } catch (error) {
    throw tokenError(error, apiKey);
  }
  if (typeof payload.iat === 'number' && payload.iat > nowMs / 1000 + CLOCK_TOLERANCE_S) {
    throw new StreamError(ErrorCode.TokenUsedBeforeIssuedAt, 'JWTAuth error: token used before issued at (iat)');
  }
  return payload;
}

function tokenError(error: unknown, apiKey: string): StreamError {
  if (error instanceof errors.JWTExpired) {
    return new StreamError(ErrorCode.TokenExpired, 'JWTAuth error: token has expired');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return new StreamError(ErrorCode.TokenNotValidYet, 'JWTAuth error: token is not valid yet');
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
