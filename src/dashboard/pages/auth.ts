// Signing in (the app's API key and secret), signing out, and the dashboard's front door.
import { createHash } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import { sameSecret } from '../../auth/core.js';
import { ErrorCode, StreamError } from '../../http/errors.js';
import { addressKey } from '../../lib/network.js';
import type { SignInBody, SignInQuery } from '../forms.js';
import { apiMessage, redirect, sendHtml, type Dashboard } from '../page-kit.js';
import { clearedSessionCookie, sessionCookie, signSession } from '../session.js';
import { signInPage } from '../views/sign-in.js';

/** Compares in constant time whatever the lengths: the digests are compared, not the texts. */
function sameText(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest('hex');
  return sameSecret(digest(given), digest(expected));
}

const ENDED: Record<string, string> = {
  expired: 'Your session has ended: sign in again.',
  out: 'You have signed out.',
};

export function authPages(dashboard: Dashboard) {
  const { route, ctx } = dashboard;

  route('GET', '/', { operation: 'Dashboard' }, async (_request, reply) => redirect(reply, '/dashboard/users'));

  route('GET', '/sign-in', { operation: 'SignIn', public: true }, async (request, reply) => {
    if (request.dashboard) return redirect(reply, '/dashboard/users');
    const { ended } = request.query as Static<typeof SignInQuery>;
    return sendHtml(reply, signInPage({ notice: ended ? ENDED[ended] : undefined }));
  });

  route('POST', '/sign-in', { operation: 'SignIn', public: true }, async (request, reply) => {
    const body = request.body as Static<typeof SignInBody>;
    const waitSeconds = dashboard.limiter.blockedFor(addressKey(request.ip));
    if (waitSeconds > 0) {
      reply.header('retry-after', String(waitSeconds));
      const refusal = new StreamError(ErrorCode.RateLimit, `too many failed sign-ins from this address: try again in ${Math.ceil(waitSeconds / 60)} minutes`);
      return sendHtml(reply, signInPage({ apiKey: body.api_key, error: apiMessage(request, 'SignIn', refusal) }), 429);
    }
    const credentials = ctx.credentials();
    // Both compared, always: the answer takes as long whichever is wrong.
    const keyMatches = sameText(body.api_key, credentials.apiKey);
    const secretMatches = sameText(body.api_secret, credentials.apiSecret);
    if (!keyMatches || !secretMatches) {
      dashboard.limiter.fail(addressKey(request.ip));
      const refusal = new StreamError(ErrorCode.AccessKey, 'the API key or secret is wrong');
      return sendHtml(reply, signInPage({ apiKey: body.api_key, error: apiMessage(request, 'SignIn', refusal) }), 401);
    }
    const { token } = await signSession(dashboard.keys(), dashboard.now(), dashboard.sessionMs);
    reply.header('set-cookie', sessionCookie(token, Math.floor(dashboard.sessionMs / 1000), dashboard.cookie));
    return redirect(reply, '/dashboard/users');
  });

  route('POST', '/sign-out', { operation: 'SignOut' }, async (request, reply) => {
    await dashboard.signedOut.end(request.dashboard!.session);
    reply.header('set-cookie', clearedSessionCookie(dashboard.cookie));
    return redirect(reply, '/dashboard/sign-in?ended=out');
  });
}
