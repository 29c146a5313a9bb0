// verifyToken remembers the tokens it verified (auth/jwt.ts): a remembered token answers exactly as a first
// verification would at every moment (exp, nbf and iat checked again), and only for the key it was verified with.
// backend-independent: token verification, no database.
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { secretKey, verifyToken } from '../../src/auth/jwt.js';

const SECRET = 'jwt-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const NOW_S = 1_800_000_000;

const sign = (claims: JWTPayload, secret = SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));

/** What verifyToken answers: the claims, or the error's code and message. */
const outcome = (token: string, key: Uint8Array, atS: number) =>
  verifyToken(token, key, 'key', atS * 1000).then(
    (claims) => ({ claims }),
    (error: { code: number; message: string }) => ({ code: error.code, message: error.message }),
  );

describe('verifyToken, for a token it verified before', () => {
  it('answers as a first verification at every moment: exp, nbf and iat checked at each use', async () => {
    const tokens = [
      await sign({ user_id: 'u', exp: NOW_S + 60 }),
      await sign({ user_id: 'u', nbf: NOW_S + 60 }),
      await sign({ server: true, iat: NOW_S + 60 }),
      await sign({ user_id: 'u', iat: NOW_S - 10, nbf: NOW_S - 5, exp: NOW_S + 30 }),
    ];
    const remembering = secretKey(SECRET);
    // Each moment's answers from the key that has seen the tokens before, and from a key that never has.
    const moments = [0, 4, 5, 6, 29, 34, 35, 36, 55, 56, 60, 64, 65, 66, 120, 0, -10].map((offset) => NOW_S + offset);
    const answers = { remembered: [] as unknown[], fresh: [] as unknown[] };
    for (const at of moments) {
      for (const token of tokens) {
        answers.remembered.push(await outcome(token, remembering, at));
        answers.fresh.push(await outcome(token, secretKey(SECRET), at));
      }
    }
    expect(answers.remembered).toEqual(answers.fresh);
    // The moments cover each answer: accepted, expired (40), not valid yet (41), issued in the future (42).
    expect(new Set(answers.fresh.map((answer) => (answer as { code?: number }).code ?? 'ok'))).toEqual(new Set(['ok', 40, 41, 42]));
  });

  it('accepts it only with the key it was verified with, and only as it was signed', async () => {
    const token = await sign({ server: true });
    const key = secretKey(SECRET);
    expect(await outcome(token, key, NOW_S)).toEqual({ claims: { server: true } });
    expect(await outcome(token, secretKey(`${SECRET}-other`), NOW_S)).toMatchObject({ code: 43 });
    const [header, , signature] = token.split('.');
    const altered = `${header}.${Buffer.from(JSON.stringify({ server: true, user_id: 'x' })).toString('base64url')}.${signature}`;
    expect(await outcome(altered, key, NOW_S)).toMatchObject({ code: 43 });
    expect(await outcome(`${token}x`, key, NOW_S)).toMatchObject({ code: 43 });
  });
});
