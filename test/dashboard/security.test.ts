// The dashboard's security, over raw HTTP: sessions (cookie attributes, forged, tampered, wrong-algorithm, expired
// and foreign cookies, expiry, sign-out, a changed API secret), CSRF on every action, the sign-in limit per address,
// what pages never contain, and the dashboard being off unless switched on.
import { SignJWT } from 'jose';
import { sql } from 'kysely';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { credentialsOf } from '../../src/auth/core.js';
import { signServerToken } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';
import { dashboardKeys, signSession } from '../../src/dashboard/session.js';
import { servedRoutes } from '../helpers/routes.js';
import { API_KEY, API_SECRET, startTestServer, type TestServer } from '../helpers/server.js';

const HOUR = 3_600_000;
const SESSION_MS = 2 * HOUR;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** Routes served without a session, by design: signing in, and the stylesheet and script of the sign-in page. */
const PUBLIC_ROUTES = ['GET /dashboard/sign-in', 'POST /dashboard/sign-in', 'GET /dashboard/assets/htmx.min.js', 'GET /dashboard/assets/dashboard.css'];

interface Operator {
  cookie: string;
  csrf: string;
}

describe('dashboard security', () => {
  let server: TestServer;
  let app: FastifyInstance;
  let clock = Date.UTC(2026, 10, 29, 12, 0, 0);

  const inject = (options: InjectOptions) => app.inject(options);
  const form = (fields: Record<string, string | string[]>) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(fields)) for (const item of [value].flat()) search.append(key, item);
    return search.toString();
  };

  async function signIn(target = app, options: { ip?: string; key?: string; secret?: string } = {}): Promise<Operator> {
    const response = await target.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: FORM,
      payload: form({ api_key: options.key ?? API_KEY, api_secret: options.secret ?? API_SECRET }),
      ...(options.ip ? { remoteAddress: options.ip } : {}),
    });
    expect(response.statusCode, response.body).toBe(303);
    const cookie = String(response.headers['set-cookie']).split(';')[0]!;
    const users = await target.inject({ method: 'GET', url: '/dashboard/users', headers: { cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(users.body)?.[1];
    expect(csrf).toBeTruthy();
    return { cookie, csrf: csrf! };
  }

  /** The state a refused request must leave as it was. */
  async function state(): Promise<string> {
    const result = await sql<{ dump: string }>`SELECT json_build_array(
      (SELECT coalesce(json_agg(u ORDER BY id), '[]') FROM users u),
      (SELECT coalesce(json_agg(t ORDER BY id), '[]') FROM tasks t),
      (SELECT coalesce(json_agg(b ORDER BY user_id, blocked_user_id), '[]') FROM user_blocks b),
      (SELECT coalesce(json_agg(a), '[]') FROM app_settings a))::text AS dump`.execute(server.database.db);
    return result.rows[0]!.dump;
  }

  const alertOf = (body: string) => /role="alert" id="error"><p>(.*?)<\/p>/s.exec(body)?.[1]?.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

  beforeAll(async () => {
    server = await startTestServer({ dashboard: { sessionMs: SESSION_MS, now: () => clock, signInLimit: { failures: 3, windowMs: 15 * 60_000 } } });
    app = server.app;
    const upsert = await server.request('POST', '/api/v2/users', {
      body: { users: { ada: { id: 'ada', name: 'Ada', custom: { color: 'blue' } }, grace: { id: 'grace', name: 'Grace' }, off: { id: 'off', name: 'Off' } } },
    });
    expect(upsert.status).toBe(201);
    expect((await server.request('POST', '/api/v2/users/off/deactivate', { body: {} })).status).toBe(201);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('without a session, redirects every page to sign-in and refuses every action with 401', async () => {
    const routes = servedRoutes(app).filter((route) => route.split(' ')[1]!.startsWith('/dashboard'));
    expect(routes.length).toBeGreaterThan(20);
    const before = await state();
    for (const route of routes) {
      if (PUBLIC_ROUTES.includes(route) || PUBLIC_ROUTES.includes(route.replace(/^HEAD /, 'GET '))) continue;
      const [method, path] = route.split(' ') as ['GET' | 'HEAD' | 'POST', string];
      const url = path.replace(':user_id', 'ada').replace(':task_id', '00000000-0000-4000-8000-000000000000');
      for (const cookie of [undefined, 'dashboard_session=forged']) {
        const response = await inject({ method, url, headers: { ...FORM, ...(cookie ? { cookie } : {}) }, payload: method === 'POST' ? form({ confirmed: 'yes', action: 'delete', user_ids: 'ada', name: 'x', role: 'user', custom: '{}' }) : undefined });
        if (method === 'POST') {
          expect(response.statusCode, `${route} ${cookie ?? 'no cookie'}`).toBe(401);
          expect(alertOf(response.body), route).toMatch(/^Dashboard failed with error: "(sign in to the dashboard first|the session has ended: sign in again)"$/);
        } else {
          expect(response.statusCode, `${route} ${cookie ?? 'no cookie'}`).toBe(303);
          expect(response.headers.location).toBe(cookie ? '/dashboard/sign-in?ended=expired' : '/dashboard/sign-in');
        }
        if (cookie) expect(String(response.headers['set-cookie'])).toMatch(/^dashboard_session=; Path=\/dashboard; Max-Age=0; HttpOnly; SameSite=Strict$/);
      }
    }
    // An htmx request is answered 401 with the message alone, for the page to show.
    const polled = await inject({ method: 'GET', url: '/dashboard/tasks/00000000-0000-4000-8000-000000000000/status', headers: { 'hx-request': 'true' } });
    expect(polled.statusCode).toBe(401);
    expect(polled.body).toMatch(/^<div class="alert error" role="alert" id="error"><p>Dashboard failed with error: &quot;sign in to the dashboard first&quot;<\/p><\/div>$/);
    expect(await state()).toBe(before);
    // The public ones answer without a session.
    expect((await inject({ method: 'GET', url: '/dashboard/sign-in' })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: '/dashboard/assets/dashboard.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await inject({ method: 'GET', url: '/dashboard/assets/htmx.min.js' })).body).toContain('htmx');
  });

  it('sets the session in an HttpOnly, SameSite=Strict cookie that lasts the session, Secure behind an https public URL', async () => {
    const response = await inject({ method: 'POST', url: '/dashboard/sign-in', headers: FORM, payload: form({ api_key: API_KEY, api_secret: API_SECRET }) });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/dashboard/users');
    expect(String(response.headers['set-cookie'])).toMatch(/^dashboard_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/dashboard; Max-Age=7200; HttpOnly; SameSite=Strict$/);

    const https = await buildApp({ db: server.database.db, credentials: credentialsOf(API_KEY, API_SECRET), logger: false, publicUrl: 'https://users.example.com', dashboard: {} });
    try {
      const secure = await https.inject({ method: 'POST', url: '/dashboard/sign-in', headers: FORM, payload: form({ api_key: API_KEY, api_secret: API_SECRET }) });
      expect(String(secure.headers['set-cookie'])).toMatch(/; Max-Age=28800; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await https.close();
    }
  });

  it('refuses forged, tampered, wrong-algorithm, expired and foreign session cookies', async () => {
    const { cookie } = await signIn();
    const token = cookie.split('=')[1]!;
    const keys = dashboardKeys(API_SECRET);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(clock / 1000);
    const signed = (alg: string, key: Uint8Array, body: object) => new SignJWT({ ...body }).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);

    const refused: Array<[string, string]> = [
      ['a tampered payload (later expiry), same signature', `${header}.${b64({ ...claims, exp: claims.exp + 86_400 })}.${signature}`],
      ['another session id, same signature', `${header}.${b64({ ...claims, sid: 'AAAAAAAAAAAAAAAAAAAAAA' })}.${signature}`],
      ['a broken signature', `${header}.${payload}.${signature.slice(0, -4)}AAAA`],
      ['an unsigned token (alg none)', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`],
      ['HS512 with the right key', await signed('HS512', keys.session, claims)],
      ['HS256 with the API secret itself', await signed('HS256', new TextEncoder().encode(API_SECRET), claims)],
      ['a server-side API token', await signServerToken(credentialsOf(API_KEY, API_SECRET).key)],
      ['no audience', await signed('HS256', keys.session, { sid: claims.sid, iat: now, exp: now + 60 })],
      ['expired', (await signSession(keys, clock - SESSION_MS - 1000, SESSION_MS)).token],
      ['issued in the future', (await signSession(keys, clock + HOUR, SESSION_MS)).token],
      ['a session of another secret', (await signSession(dashboardKeys('another-secret'), clock, SESSION_MS)).token],
      ['garbage', 'not-a-jwt'],
      ['a huge value', 'a'.repeat(5000)],
    ];
    expect((await inject({ method: 'GET', url: '/dashboard/users', headers: { cookie } })).statusCode).toBe(200);
    for (const [what, value] of refused) {
      const response = await inject({ method: 'GET', url: '/dashboard/users', headers: { cookie: `dashboard_session=${value}` } });
      expect(response.statusCode, what).toBe(303);
      expect(response.headers.location, what).toBe('/dashboard/sign-in?ended=expired');
    }
  });

  it('ends a session when it expires, when the operator signs out, and when the API secret changes', async () => {
    const started = clock;
    const { cookie, csrf } = await signIn();
    clock = started + SESSION_MS - 1000;
    expect((await inject({ method: 'GET', url: '/dashboard/tasks', headers: { cookie } })).statusCode).toBe(200);
    clock = started + SESSION_MS + 1000;
    expect((await inject({ method: 'GET', url: '/dashboard/tasks', headers: { cookie } })).headers.location).toBe('/dashboard/sign-in?ended=expired');
    clock = started;

    // Sign-out clears the cookie, and the token is refused even if the cookie was kept: by this process, and by
    // another instance on the same database.
    const other = await signIn();
    const instance = await buildApp({ db: server.database.db, credentials: credentialsOf(API_KEY, API_SECRET), logger: false, dashboard: { now: () => clock } });
    try {
      expect((await instance.inject({ method: 'GET', url: '/dashboard/users', headers: { cookie: other.cookie } })).statusCode).toBe(200);
      const out = await inject({ method: 'POST', url: '/dashboard/sign-out', headers: { ...FORM, cookie: other.cookie }, payload: form({ _csrf: other.csrf }) });
      expect(out.statusCode).toBe(303);
      expect(out.headers.location).toBe('/dashboard/sign-in?ended=out');
      expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
      expect((await inject({ method: 'GET', url: '/dashboard/users', headers: { cookie: other.cookie } })).statusCode).toBe(303);
      expect((await instance.inject({ method: 'GET', url: '/dashboard/users', headers: { cookie: other.cookie } })).statusCode).toBe(303);
      // …and only that session.
      expect((await inject({ method: 'GET', url: '/dashboard/users', headers: { cookie } })).statusCode).toBe(200);
      expect((await instance.inject({ method: 'GET', url: '/dashboard/users', headers: { cookie } })).statusCode).toBe(200);
    } finally {
      await instance.close();
    }

    // The same database served with another API secret: the session is not one of its own.
    const rotated = await buildApp({ db: server.database.db, credentials: credentialsOf(API_KEY, 'a-new-secret-after-rotation'), logger: false, dashboard: {} });
    try {
      const response = await rotated.inject({ method: 'GET', url: '/dashboard/users', headers: { cookie } });
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe('/dashboard/sign-in?ended=expired');
      const action = await rotated.inject({ method: 'POST', url: '/dashboard/users/ada/deactivate', headers: { ...FORM, cookie }, payload: form({ _csrf: csrf, confirmed: 'yes' }) });
      expect(action.statusCode).toBe(401);
    } finally {
      await rotated.close();
    }
  });

  it('refuses every action without the CSRF token, with a wrong one, or with another session\'s, and changes nothing', async () => {
    const operator = await signIn();
    const stranger = await signIn();
    const actions = servedRoutes(app).filter((route) => route.startsWith('POST /dashboard/') && route !== 'POST /dashboard/sign-in');
    expect(actions.length).toBeGreaterThan(8);
    const fields = {
      confirmed: 'yes', action: 'delete', user_ids: ['ada', 'grace'], mode: 'hard', name: 'Mallory', role: 'admin', custom: '{"owned": true}', cutoff: 'now',
      revoke_tokens_issued_before: '', enforce_unique_usernames: 'app', webhook_url: '', webhook_events: '', event_hooks: '[]', multi_tenant_enabled: 'on',
    };
    const before = await state();
    for (const route of actions) {
      const url = route.split(' ')[1]!.replace(':user_id', 'ada');
      for (const [what, csrf, header] of [
        ['no token', undefined, undefined],
        ['an empty token', '', undefined],
        ['a wrong token', 'x'.repeat(43), undefined],
        ["another session's token", stranger.csrf, undefined],
        ["another session's token in the header", undefined, stranger.csrf],
      ] as const) {
        const response = await inject({
          method: 'POST',
          url,
          headers: { ...FORM, cookie: operator.cookie, ...(header ? { 'x-csrf-token': header } : {}) },
          payload: form({ ...fields, ...(csrf !== undefined ? { _csrf: csrf } : {}) }),
        });
        expect(response.statusCode, `${route}, ${what}`).toBe(403);
        expect(alertOf(response.body), `${route}, ${what}`).toMatch(/^\w+ failed with error: "the form is out of date or not from this dashboard \(its CSRF token is missing or wrong\): reload the page and try again"$/);
      }
    }
    expect(await state()).toBe(before);
    // The session still works; the right token, in the form or in htmx's header, is accepted.
    const byForm = await inject({ method: 'POST', url: '/dashboard/users/ada/revoke-tokens', headers: { ...FORM, cookie: operator.cookie }, payload: form({ _csrf: operator.csrf, confirmed: 'yes' }) });
    expect(byForm.statusCode).toBe(303);
    expect(byForm.headers.location).toBe('/dashboard/users/ada?notice=revoked');
    const byHeader = await inject({ method: 'POST', url: '/dashboard/users/ada/revoke-tokens', headers: { ...FORM, cookie: operator.cookie, 'x-csrf-token': operator.csrf }, payload: form({ cutoff: 'clear', confirmed: 'yes' }) });
    expect(byHeader.statusCode).toBe(303);
    expect(byHeader.headers.location).toBe('/dashboard/users/ada?notice=unrevoked');
  });

  it('limits failed sign-ins per address, right credentials included, until the window is over', async () => {
    const started = clock;
    const attempt = (ip: string, secret: string) =>
      inject({ method: 'POST', url: '/dashboard/sign-in', headers: FORM, payload: form({ api_key: API_KEY, api_secret: secret }), remoteAddress: ip });
    for (let i = 0; i < 3; i += 1) {
      const failed = await attempt('10.0.0.7', `guess-${i}`);
      expect(failed.statusCode).toBe(401);
      expect(alertOf(failed.body)).toBe('SignIn failed with error: "the API key or secret is wrong"');
    }
    const limited = await attempt('10.0.0.7', API_SECRET);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('900');
    expect(limited.headers['set-cookie']).toBeUndefined();
    expect(alertOf(limited.body)).toBe('SignIn failed with error: "too many failed sign-ins from this address: try again in 15 minutes"');
    // Another address is not held back.
    expect((await attempt('10.0.0.8', API_SECRET)).statusCode).toBe(303);
    clock = started + 15 * 60_000 + 1;
    expect((await attempt('10.0.0.7', API_SECRET)).statusCode).toBe(303);
    clock = started;
    // A wrong key counts as a wrong secret does, and the page never says which one was wrong.
    const wrongKey = await inject({ method: 'POST', url: '/dashboard/sign-in', headers: FORM, payload: form({ api_key: 'nope', api_secret: API_SECRET }), remoteAddress: '10.0.0.9' });
    expect(wrongKey.statusCode).toBe(401);
    expect(alertOf(wrongKey.body)).toBe('SignIn failed with error: "the API key or secret is wrong"');
  });

  it('counts the address X-Forwarded-For gives only behind a trusted proxy', async () => {
    const proxied = await buildApp({ db: server.database.db, credentials: credentialsOf(API_KEY, API_SECRET), logger: false, trustProxy: true, dashboard: { signInLimit: { failures: 1, windowMs: 60_000 } } });
    try {
      const attempt = (forwardedFor: string, secret: string) =>
        proxied.inject({ method: 'POST', url: '/dashboard/sign-in', headers: { ...FORM, 'x-forwarded-for': forwardedFor }, payload: form({ api_key: API_KEY, api_secret: secret }) });
      expect((await attempt('203.0.113.1', 'wrong')).statusCode).toBe(401);
      expect((await attempt('203.0.113.1', API_SECRET)).statusCode).toBe(429);
      expect((await attempt('203.0.113.2', API_SECRET)).statusCode).toBe(303);
    } finally {
      await proxied.close();
    }
  });

  it('never puts the secret or a token in a page, and sends its pages with a strict Content-Security-Policy', async () => {
    const { cookie } = await signIn();
    const task = await server.request('POST', '/api/v2/users/deactivate', { body: { user_ids: ['grace'] } });
    const reactivate = await server.request('POST', '/api/v2/users/reactivate', { body: { user_ids: ['grace'] } });
    expect([task.status, reactivate.status]).toEqual([201, 201]);
    for (const url of ['/dashboard/users', '/dashboard/users/ada', '/dashboard/tasks', `/dashboard/tasks/${task.body.task_id}`, '/dashboard/app', '/dashboard/sign-in']) {
      const response = await inject({ method: 'GET', url, headers: { cookie } });
      expect(response.statusCode, url).toBeLessThan(400);
      expect(response.body, url).not.toContain(API_SECRET);
      expect(response.body, url).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
      if (response.statusCode !== 200) continue;
      expect(response.headers['content-security-policy'], url).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.body).not.toMatch(/<script(?! src="\/dashboard\/assets\/htmx\.min\.js" defer><\/script>)/);
      expect(response.body).not.toMatch(/ style="|<style/);
    }
  });

  it('is not served unless switched on: by default only on a loopback HOST, DASHBOARD=on|off overriding', async () => {
    const plain = await buildApp({ db: server.database.db, credentials: credentialsOf(API_KEY, API_SECRET), logger: false });
    try {
      const response = await plain.inject({ method: 'GET', url: '/dashboard' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 16, StatusCode: 404 });
      expect(servedRoutes(plain).filter((route) => route.includes('/dashboard'))).toEqual([]);
    } finally {
      await plain.close();
    }
    expect(loadConfig({}).dashboard).toEqual({ enabled: 'local', sessionMs: 8 * HOUR });
    expect(loadConfig({ HOST: '0.0.0.0' }).dashboard.enabled).toBe('off');
    expect(loadConfig({ HOST: '0.0.0.0', DASHBOARD: 'on' }).dashboard.enabled).toBe('on');
    expect(loadConfig({ HOST: '127.0.0.1', DASHBOARD: 'off' }).dashboard.enabled).toBe('off');
    expect(loadConfig({ DASHBOARD_SESSION_HOURS: '0.5' }).dashboard.sessionMs).toBe(HOUR / 2);
    expect(() => loadConfig({ DASHBOARD: 'maybe' })).toThrow('DASHBOARD must be on or off, got "maybe"');
  });
});
