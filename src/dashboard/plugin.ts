// The operator dashboard at /dashboard: server-rendered pages (views/), htmx for the parts that refresh themselves,
// and a stylesheet, all served from here (no CDN). An encapsulated Fastify plugin: its form parser, hooks and error
// handler apply to its own routes only, and the API's JSON parsing and error envelopes stay as they are.
//
// A request: the API's envelope hooks (its auth hook skips these routes, which are `public` to it) → the security
// headers and the session check (onRequest: no valid session cookie → a redirect to sign-in, or 401) → the CSRF check
// of every POST (preValidation: a header or a form field that must match the session) → the schema → the page's
// handler, which calls services in-process (never a store) and renders a view. Any failure is rendered with the
// API's message for it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, RouteHandlerMethod } from 'fastify';
import type { ServiceContext } from '../context.js';
import { envelopeOf, toStreamError } from '../http/envelope.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { isLocalRequest } from '../lib/network.js';
import { projectPath } from '../lib/paths.js';
import { ROUTE_SCHEMAS, parseForm } from './forms.js';
import { authPages } from './pages/auth.js';
import { appPages } from './pages/app.js';
import { taskPages } from './pages/tasks.js';
import { userPages } from './pages/user.js';
import { usersPages } from './pages/users.js';
import { webhookPages } from './pages/webhooks.js';
import {
  clearedSessionCookie,
  CSRF_FIELD,
  CSRF_HEADER,
  csrfMatches,
  csrfToken,
  dashboardKeys,
  sessionCookieOf,
  verifySession,
  type CookieOptions,
  type DashboardKeys,
  type Session,
} from './session.js';
import { DEFAULT_SIGN_IN_LIMIT, SignInLimiter, type SignInLimit } from './sign-in-limit.js';
import { SignedOutSessions } from './service.js';
import { apiMessage, pageSession, redirect, sendHtml, type Dashboard } from './page-kit.js';
import { errorFragment, errorPage } from './views/error.js';
import type { PageSession, Section } from './views/layout.js';

export interface DashboardOptions {
  ctx: ServiceContext;
  /** How long a session lasts (DASHBOARD_SESSION_HOURS); 8 hours by default. */
  sessionMs?: number;
  /** The server's public URL: the cookie is Secure when it is https; export links are based on it. */
  publicUrl?: string;
  /** Failed sign-ins allowed per client address and window; 10 in 15 minutes by default. */
  signInLimit?: SignInLimit;
  /** The clock of sessions and the sign-in limit (tests move it). */
  now?: () => number;
  /** Served only to requests from this machine (DASHBOARD unset): any other request is answered 404, as an unknown URL. */
  localOnly?: boolean;
}

/** HSTS for a year: the API secret is typed into the sign-in form, so the browser must never fall back to http. */
const STRICT_TRANSPORT_SECURITY = 'max-age=31536000';

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const require = createRequire(import.meta.url);
const ASSETS = {
  htmx: readFileSync(require.resolve('htmx.org/dist/htmx.min.js')),
  css: readFileSync(projectPath('src/dashboard/assets/dashboard.css')),
};

function isHtmx(request: FastifyRequest): boolean {
  return request.headers['hx-request'] === 'true';
}

/** The section and page to go back to from a failed request. */
function backFrom(request: FastifyRequest): { href: string; label: string; section: Section | undefined } {
  const path = request.url.split('?')[0] ?? '';
  const user = /^\/dashboard\/users\/([^/]+)/.exec(path);
  if (user && user[1] !== 'bulk') return { href: `/dashboard/users/${user[1]}`, label: 'Back to the user', section: 'users' };
  if (path.startsWith('/dashboard/tasks')) return { href: '/dashboard/tasks', label: 'Back to the tasks', section: 'tasks' };
  if (path.startsWith('/dashboard/app')) return { href: '/dashboard/app', label: 'Back to the app', section: 'app' };
  if (path.startsWith('/dashboard/users')) return { href: '/dashboard/users', label: 'Back to the users', section: 'users' };
  return { href: '/dashboard/users', label: 'Go to the dashboard', section: undefined };
}

function renderFailure(request: FastifyRequest, reply: FastifyReply, status: number, message: string): FastifyReply {
  if (isHtmx(request)) return sendHtml(reply, errorFragment(message), status);
  if (!request.dashboard) return sendHtml(reply, errorPage({ status, message, back: { href: '/dashboard/sign-in', label: 'Sign in' } }), status);
  const back = backFrom(request);
  return sendHtml(reply, errorPage({ status, message, session: pageSession(request), back, section: back.section }), status);
}

async function dashboardPlugin(app: FastifyInstance, options: DashboardOptions) {
  const { ctx } = options;
  const now = options.now ?? Date.now;
  const cookie: CookieOptions = { secure: options.publicUrl?.startsWith('https:') ?? false };
  const keys = () => dashboardKeys(ctx.credentials().apiSecret);

  const dashboard: Dashboard = {
    ctx,
    now,
    keys,
    sessionMs: options.sessionMs ?? 8 * 3_600_000,
    cookie,
    limiter: new SignInLimiter(options.signInLimit ?? DEFAULT_SIGN_IN_LIMIT, now),
    signedOut: new SignedOutSessions(ctx.db, now),
    baseUrl: (request) => options.publicUrl ?? `${request.protocol}://${request.host}`,
    route(method, url, routeOptions, handler) {
      const schemas = ROUTE_SCHEMAS[`${method} ${url}`];
      if (!schemas) throw new Error(`dashboard route ${method} ${url} has no entry in ROUTE_SCHEMAS`);
      app.route({
        method,
        url,
        // Public to the API's auth hook (the dashboard has its own session); left out of openapi.yaml.
        config: { public: true, dashboardPublic: routeOptions.public ?? false, operation: routeOptions.operation },
        schema: { ...schemas, hide: true },
        handler,
      });
    },
  };

  // HTML forms, for these routes only.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (error) {
      done(error as Error);
    }
  });

  app.decorateRequest('dashboard', null);
  app.decorateRequest('dashboardOperation', undefined);

  app.addHook('onRequest', async (request, reply) => {
    if (options.localOnly && !isLocalRequest(request.raw, options.publicUrl)) {
      const unknown = new StreamError(ErrorCode.DoesNotExist, `${request.method} ${request.url.split('?')[0]} is not a known endpoint`);
      return reply.code(404).type('application/json; charset=utf-8').send(envelopeOf('Request', unknown, request.startedAt || process.hrtime.bigint()));
    }
    if (request.protocol === 'https' || options.publicUrl?.startsWith('https:')) reply.header('strict-transport-security', STRICT_TRANSPORT_SECURITY);
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');

    const value = sessionCookieOf(request.headers.cookie);
    const session = value ? await verifySession(keys(), value, now()) : undefined;
    if (session && !(await dashboard.signedOut.has(session))) request.dashboard = { session, csrf: csrfToken(keys(), session) };
    if (request.routeOptions.config?.dashboardPublic || request.dashboard) return;

    // No session: pages send the browser to sign in; anything else (a form, an htmx request) is refused.
    if (value !== undefined) reply.header('set-cookie', clearedSessionCookie(cookie));
    if ((request.method === 'GET' || request.method === 'HEAD') && !isHtmx(request)) {
      return redirect(reply, `/dashboard/sign-in${value !== undefined ? '?ended=expired' : ''}`);
    }
    const refusal = new StreamError(ErrorCode.Authentication, value !== undefined ? 'the session has ended: sign in again' : 'sign in to the dashboard first');
    return renderFailure(request, reply, 401, apiMessage(request, 'Dashboard', refusal));
  });

  // Every action carries the session's CSRF token: in the form (_csrf) or, from htmx, in the X-CSRF-Token header.
  app.addHook('preValidation', async (request) => {
    // Sign-in needs none: it takes the secret itself, and there is no session yet.
    if (request.method === 'GET' || request.method === 'HEAD' || !request.dashboard || request.routeOptions.config?.dashboardPublic) return;
    const body = request.body;
    const field = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[CSRF_FIELD] : undefined;
    const header = request.headers[CSRF_HEADER];
    const given = typeof header === 'string' ? header : field;
    if (!csrfMatches(keys(), request.dashboard.session, given)) {
      throw new StreamError(ErrorCode.NotAllowed, 'the form is out of date or not from this dashboard (its CSRF token is missing or wrong): reload the page and try again');
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const refusal = toStreamError(error as Error);
    if (refusal.statusCode >= 500) request.log.error({ err: error }, 'dashboard request failed');
    const operation = request.dashboardOperation ?? request.routeOptions.config?.operation ?? 'Dashboard';
    return renderFailure(request, reply, refusal.statusCode, apiMessage(request, operation, refusal));
  });

  app.setNotFoundHandler((request, reply) => {
    const refusal = new StreamError(ErrorCode.DoesNotExist, `${request.method} ${request.url.split('?')[0]} is not a page of the dashboard`);
    return renderFailure(request, reply, 404, apiMessage(request, 'Dashboard', refusal));
  });

  for (const [url, body, type] of [
    ['/assets/htmx.min.js', ASSETS.htmx, 'text/javascript; charset=utf-8'],
    ['/assets/dashboard.css', ASSETS.css, 'text/css; charset=utf-8'],
  ] as const) {
    dashboard.route('GET', url, { operation: 'Dashboard', public: true }, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=3600').type(type).send(body),
    );
  }

  authPages(dashboard);
  usersPages(dashboard);
  userPages(dashboard);
  taskPages(dashboard);
  appPages(dashboard);
  webhookPages(dashboard);
}

/** Serves the dashboard under /dashboard. */
export async function registerDashboard(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  await app.register(dashboardPlugin, { ...options, prefix: '/dashboard' });
}
