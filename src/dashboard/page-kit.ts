// What the dashboard's pages share with the plugin that registers them (plugin.ts): the Dashboard they are given, and
// how a page answers (HTML, a redirect, a refusal shown with the API's message). A module of its own so that the
// pages depend on it and the plugin depends on the pages, never the other way round.
import type { FastifyReply, FastifyRequest, HTTPMethods, RouteHandlerMethod } from 'fastify';
import type { ServiceContext } from '../context.js';
import { envelopeOf, toStreamError } from '../http/envelope.js';
import { StreamError } from '../http/errors.js';
import type { CookieOptions, DashboardKeys, Session } from './session.js';
import type { SignInLimiter } from './sign-in-limit.js';
import type { SignedOutSessions } from './service.js';
import type { PageSession } from './views/layout.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A dashboard route served without a session: sign-in and the static assets. */
    dashboardPublic?: boolean;
  }
  interface FastifyRequest {
    /** The operator's session, when the request carries a valid one. */
    dashboard: { session: Session; csrf: string } | null;
    /** The Stream operation a dashboard request performs, for the message of its failure. */
    dashboardOperation: string | undefined;
  }
}

/** What the pages share: the services, the clock, the keys, and how pages are answered. */
export interface Dashboard {
  ctx: ServiceContext;
  now(): number;
  keys(): DashboardKeys;
  sessionMs: number;
  cookie: CookieOptions;
  limiter: SignInLimiter;
  signedOut: SignedOutSessions;
  /** Base of export download links: the public URL, else the request's origin. */
  baseUrl(request: FastifyRequest): string;
  route(method: HTTPMethods, url: string, options: { operation: string; public?: boolean }, handler: RouteHandlerMethod): void;
}

/** The session as a page shows it (the CSRF token for its forms); only for requests that passed the session check. */
export function pageSession(request: FastifyRequest): PageSession {
  const current = request.dashboard!;
  return { csrf: current.csrf, expiresAt: current.session.expiresAt };
}

export function sendHtml(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

export function redirect(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).send();
}

/** The API's message for a failure of `operation`: `<operation> failed with error: "<detail>"`. */
export function apiMessage(request: FastifyRequest, operation: string, error: StreamError): string {
  return envelopeOf(operation, error, request.startedAt || process.hrtime.bigint()).message;
}

/**
 * Runs `action`: its value, or the refusal it threw (a 4xx) with its status and the API's message, for the page to show
 * next to what the operator sent. Anything else (a 5xx) goes on to the error handler.
 */
export async function orRefusal<T>(
  request: FastifyRequest,
  operation: string,
  action: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; status: number; message: string; error: StreamError }> {
  try {
    return { ok: true, value: await action() };
  } catch (error) {
    const refusal = error instanceof StreamError ? error : toStreamError(error as Error);
    if (refusal.statusCode >= 500) throw error;
    return { ok: false, status: refusal.statusCode, message: apiMessage(request, operation, refusal), error: refusal };
  }
}
