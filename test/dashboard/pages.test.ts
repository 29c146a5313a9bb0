// What the dashboard's pages do, over raw HTTP with a signed-in operator: search (each field, the raw filter, paging,
// deleted users), a user's edit and actions (reviewed first, with nothing written until confirmed), tasks, the app's
// settings and monthly active users, and every failure shown as the API's message.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml, html, trusted } from '../../src/dashboard/html.js';
import { API_KEY, API_SECRET, signToken, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function form(fields: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) for (const item of [value].flat()) search.append(key, item);
  return search.toString();
}

const decode = (text: string) => text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#96;/g, '`').replace(/&amp;/g, '&');
const alertOf = (body: string) => {
  const match = /role="alert" id="error"><p>(.*?)<\/p>/s.exec(body)?.[1];
  return match === undefined ? undefined : decode(match);
};
const noticeOf = (body: string) => /role="status" id="notice"><p>(.*?)<\/p>/s.exec(body)?.[1];
/** The ids in the users table, in order. */
const listedIds = (body: string) => [...body.matchAll(/<td class="id"><a href="[^"]+">([^<]+)<\/a><\/td>/g)].map((m) => decode(m[1]!));

describe('the html template', () => {
  it('escapes every interpolated value, in text and in attributes', () => {
    const name = `<script>alert("x")</script>' onmouseover='x' \`y\` &amp;`;
    expect(html`<p title="${name}">${name}</p>`.text).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;x&#39; &#96;y&#96; &amp;amp;">' +
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;x&#39; &#96;y&#96; &amp;amp;</p>',
    );
    expect(escapeHtml('a<b')).toBe('a&lt;b');
  });

  it('inserts markup it made, lists item by item, and nothing for null, undefined and false', () => {
    const items = ['<a>', 'b'].map((item) => html`<li>${item}</li>`);
    expect(html`<ul>${items}</ul>${null}${undefined}${false}${0}${trusted('<hr>')}`.text).toBe('<ul><li>&lt;a&gt;</li><li>b</li></ul>0<hr>');
  });
});

describe('dashboard pages', () => {
  let server: TestServer;
  let app: FastifyInstance;
  let cookie: string;
  let csrf: string;

  const get = (url: string) => app.inject({ method: 'GET', url, headers: { cookie } });
  const post = (url: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, headers: { ...FORM, cookie, ...headers }, payload: form({ _csrf: csrf, ...fields }) });
  const apiUser = async (id: string) => (await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: { id }, include_deactivated_users: true }) } })).body.users[0];

  beforeAll(async () => {
    server = await startTestServer({ dashboard: {} });
    app = server.app;
    const users: Record<string, object> = {
      ada: { id: 'ada', name: 'Ada Lovelace', role: 'admin', teams: ['red'], custom: { color: 'blue', 'odd key.with dots': 1, level: 3 } },
      grace: { id: 'grace', name: 'Grace Hopper', teams: ['blue'], custom: { color: 'red', rank: 42 } },
      alan: { id: 'alan', name: 'Alan Turing', teams: ['red', 'blue'], custom: { color: 'red', rank: '42' } },
    };
    for (let i = 0; i < 30; i += 1) users[`many-${String(i).padStart(2, '0')}`] = { id: `many-${String(i).padStart(2, '0')}`, name: `Many ${i}` };
    expect((await server.request('POST', '/api/v2/users', { body: { users } })).status).toBe(201);
    const signIn = await app.inject({ method: 'POST', url: '/dashboard/sign-in', headers: FORM, payload: form({ api_key: API_KEY, api_secret: API_SECRET }) });
    cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    csrf = /name="_csrf" value="([^"]+)"/.exec((await get('/dashboard/users')).body)![1]!;
  });

  afterAll(async () => {
    await server?.close();
  });

  it('searches by id prefix, name prefix, role, team, custom-field equality and the raw filter, all together', async () => {
    const ids = async (query: string) => listedIds((await get(`/dashboard/users?sort=id&dir=asc&${query}`)).body);
    expect(await ids('id=a')).toEqual(['ada', 'alan']);
    expect(await ids('name=gra')).toEqual(['grace']);
    expect(await ids('role=admin')).toEqual(['ada']);
    expect(await ids('team=blue')).toEqual(['alan', 'grace']);
    expect(await ids('field=color&value=red')).toEqual(['alan', 'grace']);
    // The value is JSON when it is JSON: 42 the number, "42" the string.
    expect(await ids('field=rank&value=42')).toEqual(['grace']);
    expect(await ids(`field=rank&value=${encodeURIComponent('"42"')}`)).toEqual(['alan']);
    // A field without a value: the users that have it.
    expect(await ids('field=rank')).toEqual(['alan', 'grace']);
    expect(await ids(`filter=${encodeURIComponent('{"teams": {"$in": ["red"]}}')}`)).toEqual(['ada', 'alan']);
    expect(await ids(`team=red&field=color&value=red&filter=${encodeURIComponent('{"name": {"$autocomplete": "tur"}}')}`)).toEqual(['alan']);
  });

  it('shows the API\'s message for a search the API would refuse', async () => {
    const cases: Array<[string, string]> = [
      [`filter=${encodeURIComponent('{"color": {"$regex": "r"}}')}`, 'QueryUsers failed with error: "'],
      [`filter=${encodeURIComponent('[1]')}`, 'QueryUsers failed with error: "filter must be a JSON object, as queryUsers\' filter_conditions"'],
      [`filter=${encodeURIComponent('{"a":')}`, 'QueryUsers failed with error: "filter is not valid JSON"'],
      ['value=x', 'QueryUsers failed with error: "a value to match needs the name of its custom field"'],
      ['page=42', 'QueryUsers failed with error: "offset: Expected integer to be less or equal to 1000"'],
      ['sort=nope', 'QueryUsers failed with error: "querystring.sort must be equal to constant"'],
    ];
    for (const [query, message] of cases) {
      const response = await get(`/dashboard/users?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(alertOf(response.body), query).toContain(message);
    }
    // The same filter through the API gets the same message.
    const api = await server.request('GET', '/api/v2/users', { query: { payload: JSON.stringify({ filter_conditions: { color: { $regex: 'r' } } }) } });
    expect(alertOf((await get(`/dashboard/users?filter=${encodeURIComponent('{"color": {"$regex": "r"}}')}`)).body)).toBe(api.body.message);
  });

  it('pages through the users in the order asked, 25 a page', async () => {
    const first = await get('/dashboard/users?id=many&sort=id&dir=asc');
    expect(listedIds(first.body)).toEqual(Array.from({ length: 25 }, (_, i) => `many-${String(i).padStart(2, '0')}`));
    expect(first.body).toContain('href="/dashboard/users?id=many&amp;sort=id&amp;dir=asc&amp;page=2" rel="next"');
    const second = await get('/dashboard/users?id=many&sort=id&dir=asc&page=2');
    expect(listedIds(second.body)).toEqual(['many-25', 'many-26', 'many-27', 'many-28', 'many-29']);
    expect(second.body).not.toContain('rel="next"');
    expect(listedIds((await get('/dashboard/users?id=many&sort=id&dir=desc')).body)[0]).toBe('many-29');
  });

  it('reviews an edit without writing it, then replaces the custom data as a whole when confirmed', async () => {
    const before = await apiUser('ada');
    const edit = { name: 'Ada King', role: 'admin', custom: '{"color": "green", "new": {"nested": true}}' };
    const review = await post('/dashboard/users/ada/edit', edit);
    expect(review.statusCode).toBe(200);
    expect(decode(review.body)).toContain('Name: Ada Lovelace → <strong>Ada King</strong>');
    expect(decode(review.body)).toMatch(/added: <code>new<\/code>.*changed: <code>color<\/code>.*removed: <code>level<\/code>, <code>odd key.with dots<\/code>/s);
    expect(await apiUser('ada')).toEqual(before);

    const saved = await post('/dashboard/users/ada/edit', { ...edit, confirmed: 'yes' });
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe('/dashboard/users/ada?notice=edited');
    const after = await apiUser('ada');
    expect(after).toMatchObject({ name: 'Ada King', role: 'admin', custom: { color: 'green', new: { nested: true } } });
    expect(Object.keys(after.custom).sort()).toEqual(['color', 'new']);
    expect(noticeOf((await get('/dashboard/users/ada?notice=edited')).body)).toBe('The user was updated.');
    // Nothing changed: nothing to confirm.
    const same = await post('/dashboard/users/ada/edit', edit);
    expect(same.headers.location).toBe('/dashboard/users/ada?notice=unchanged');
  });

  it('refuses an edit as the API refuses it, with its message, keeping what was typed', async () => {
    // 34 levels: within what any JSON may hold (40), beyond what custom data may (32).
    const deep = `{"a":${'{"b":'.repeat(33)}1${'}'.repeat(33)}}`;
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ custom: '{"color": ' }, 400, 'UpdateUsersPartial failed with error: "custom is not valid JSON"'],
      [{ custom: '["a"]' }, 400, 'UpdateUsersPartial failed with error: "custom must be a JSON object"'],
      [{ custom: deep }, 400, 'UpdateUsersPartial failed with error: "custom data of user \\"grace\\" is nested 34 levels deep: the custom data nesting depth limit is 32"'],
      [{ custom: `{"a":${'{"b":'.repeat(45)}1${'}'.repeat(45)}}` }, 400, 'UpdateUsersPartial failed with error: "custom is nested 46 levels deep: the JSON nesting depth limit is 40"'],
      [{ custom: JSON.stringify({ big: 'x'.repeat(6000) }) }, 400, 'UpdateUsersPartial failed with error: "user \\"grace\\" is too large: '],
      [{ role: '' }, 400, 'UpdateUsersPartial failed with error: "field \\"role\\" must be a non-empty string"'],
      [{ name: 'bad\u0000name' }, 400, 'UpdateUsersPartial failed with error: "'],
    ];
    const before = await apiUser('grace');
    for (const [change, status, message] of cases) {
      for (const confirmed of [{}, { confirmed: 'yes' }] as Array<Record<string, string>>) {
        const response = await post('/dashboard/users/grace/edit', { name: 'Grace Hopper', role: 'user', custom: '{}', ...change, ...confirmed });
        expect(response.statusCode, JSON.stringify(change)).toBe(status);
        expect(alertOf(response.body), JSON.stringify(change)).toContain(message.replace(/\\"/g, '"'));
        expect(decode(/<textarea id="edit-custom"[^>]*>([\s\S]*?)<\/textarea>/.exec(response.body)![1]!)).toBe(change.custom ?? '{}');
      }
    }
    expect(await apiUser('grace')).toEqual(before);
    // The API's own message for the same empty role, through a partial update.
    const api = await server.request('PATCH', '/api/v2/users', { body: { users: [{ id: 'grace', set: { role: '' } }] } });
    expect(api.body.message).toBe('UpdateUsersPartial failed with error: "field "role" must be a non-empty string"');
  });

  it('deactivates and reactivates, revokes tokens, and shows a refused action with the API\'s message', async () => {
    const token = signToken({ user_id: 'alan', iat: Math.floor(Date.now() / 1000) - 10 });
    const asAlan = () => server.request('GET', '/api/v2/users', { headers: { authorization: token } });
    expect((await asAlan()).status).toBe(200);

    const review = await post('/dashboard/users/alan/deactivate', {});
    expect(review.statusCode).toBe(200);
    expect(review.body).toContain('Deactivate user alan?');
    expect((await apiUser('alan')).deactivated_at).toBeUndefined();
    expect((await post('/dashboard/users/alan/deactivate', { confirmed: 'yes' })).headers.location).toBe('/dashboard/users/alan?notice=deactivated');
    expect((await asAlan()).status).toBe(401);
    const page = await get('/dashboard/users/alan');
    expect(page.body).toContain('<span class="badge deactivated">deactivated</span>');
    expect(page.body).toContain('A deactivated user cannot be edited: reactivate it first.');
    expect(listedIds((await get('/dashboard/users?id=alan')).body)).toEqual(['alan']);

    const editRefused = await post('/dashboard/users/alan/edit', { name: 'x', role: 'user', custom: '{}', confirmed: 'yes' });
    expect(alertOf(editRefused.body)).toBe('UpdateUsersPartial failed with error: "user "alan" was deactivated, reactivate it before updating"');

    expect((await post('/dashboard/users/alan/reactivate', { confirmed: 'yes' })).headers.location).toBe('/dashboard/users/alan?notice=reactivated');
    const again = await post('/dashboard/users/alan/reactivate', { confirmed: 'yes' });
    expect(again.statusCode).toBe(400);
    expect(alertOf(again.body)).toBe('ReactivateUser failed with error: "user "alan" is not deactivated, it can\'t be reactivated"');
    expect((await asAlan()).status).toBe(200);

    expect((await post('/dashboard/users/alan/revoke-tokens', { cutoff: 'now', confirmed: 'yes' })).headers.location).toBe('/dashboard/users/alan?notice=revoked');
    const revoked = await asAlan();
    expect([revoked.status, revoked.body.code]).toEqual([401, 40]);
    expect((await get('/dashboard/users/alan')).body).toContain('Lift the token revocation…');
    await post('/dashboard/users/alan/revoke-tokens', { cutoff: 'clear', confirmed: 'yes' });
    expect((await asAlan()).status).toBe(200);
  });

  it('deletes (the hard-delete rule explained), restores only soft-deleted users, and tells a hard-deleted id', async () => {
    const review = await post('/dashboard/users/many-00/delete', { mode: 'hard' });
    expect(decode(review.body)).toContain('it cannot be restored. The id keeps a tombstone');
    const soft = await post('/dashboard/users/many-00/delete', { mode: 'soft', confirmed: 'yes' });
    expect(soft.headers.location).toMatch(/^\/dashboard\/tasks\/[0-9a-f-]{36}$/);
    await waitForTask(server.client, soft.headers.location!.split('/').pop()!);
    expect(listedIds((await get('/dashboard/users?id=many-00')).body)).toEqual([]);
    const withDeleted = await get('/dashboard/users?id=many-00&deleted=on');
    expect(listedIds(withDeleted.body)).toEqual(['many-00']);
    expect(withDeleted.body).toContain('<span class="badge deleted">deleted (soft)</span>');
    expect((await post('/dashboard/users/many-00/restore', { confirmed: 'yes' })).headers.location).toBe('/dashboard/users/many-00?notice=restored');

    const pruned = await post('/dashboard/users/many-01/delete', { mode: 'pruning', confirmed: 'yes' });
    await waitForTask(server.client, pruned.headers.location!.split('/').pop()!);
    const refused = await post('/dashboard/users/many-01/restore', { confirmed: 'yes' });
    expect(alertOf(refused.body)).toBe('RestoreUsers failed with error: "user "many-01" was pruning deleted, it can\'t be restored"');

    const hard = await post('/dashboard/users/many-02/delete', { mode: 'hard', confirmed: 'yes' });
    await waitForTask(server.client, hard.headers.location!.split('/').pop()!);
    const gone = await get('/dashboard/users/many-02');
    expect(gone.statusCode).toBe(404);
    expect(alertOf(gone.body)).toBe('QueryUsers failed with error: "user "many-02" was hard deleted, it can\'t be restored"');
    expect(gone.body).toContain('A user with this id was hard deleted: it is gone and cannot be restored.');
    const unknown = await get('/dashboard/users/nobody');
    expect(unknown.statusCode).toBe(404);
    expect(alertOf(unknown.body)).toBe('QueryUsers failed with error: "user "nobody" does not exist"');
    const invalid = await get('/dashboard/users/not%20an%20id');
    expect(invalid.statusCode).toBe(400);
    expect(alertOf(invalid.body)).toMatch(/^QueryUsers failed with error: "user id "not an id" is invalid/);
  });

  it('runs bulk actions as tasks, with the API\'s checks on the ids', async () => {
    const review = await post('/dashboard/users/bulk', { action: 'deactivate', user_ids: ['many-10', 'many-11'] });
    expect(review.statusCode).toBe(200);
    expect(review.body).toContain('Deactivate 2 users?');
    const done = await post('/dashboard/users/bulk', { action: 'deactivate', user_ids: ['many-10', 'many-11'], confirmed: 'yes' });
    const taskId = done.headers.location!.split('/').pop()!;
    expect((await waitForTask(server.client, taskId)).status).toBe('completed');
    const taskPage = await get(`/dashboard/tasks/${taskId}`);
    expect(taskPage.body).toContain('<span class="badge task-completed">completed</span>');
    expect(taskPage.body).not.toContain('hx-trigger');
    expect(decode(taskPage.body)).toContain('"deactivated_at": "20');
    const status = await app.inject({ method: 'GET', url: `/dashboard/tasks/${taskId}/status`, headers: { cookie, 'hx-request': 'true' } });
    expect(status.body.startsWith('<div id="task-status"')).toBe(true);

    const none = await post('/dashboard/users/bulk', { action: 'delete' });
    expect(alertOf(none.body)).toBe('DeleteUsers failed with error: "user_ids must contain at least one user id"');
    const unknown = await post('/dashboard/users/bulk', { action: 'delete', user_ids: ['many-12', 'nobody'], confirmed: 'yes' });
    expect(unknown.statusCode).toBe(404);
    expect(alertOf(unknown.body)).toBe('DeleteUsers failed with error: "user "nobody" does not exist"');
    const tooMany = await post('/dashboard/users/bulk', { action: 'export', user_ids: Array.from({ length: 26 }, (_, i) => `many-${i}`) });
    expect(alertOf(tooMany.body)).toBe('ExportUsers failed with error: "user_ids must contain at most 25 user ids"');
    const restoreActive = await post('/dashboard/users/bulk', { action: 'restore', user_ids: ['many-12'], confirmed: 'yes' });
    expect(alertOf(restoreActive.body)).toBe('RestoreUsers failed with error: "user "many-12" is not deleted, it can\'t be restored"');
  });

  it('lists tasks newest first with status, type, age and attempts; a task page polls until done; unknown tasks are the API\'s 404', async () => {
    const list = await get('/dashboard/tasks');
    expect(list.statusCode).toBe(200);
    expect(list.body).toMatch(/<td>DeactivateUsers<\/td>\s*<td><span class="badge task-completed">completed<\/span><\/td>\s*<td><span title="\d+ s ago">\d+ s ago<\/span>/);
    expect(list.body).toContain('<td>1 of 5</td>');

    // A server without a worker: its tasks stay pending, and their page keeps polling.
    const idle = await startTestServer({ dashboard: {}, worker: false });
    try {
      await idle.request('POST', '/api/v2/users', { body: { users: { someone: { id: 'someone' } } } });
      const queued = await idle.request('POST', '/api/v2/users/deactivate', { body: { user_ids: ['someone'] } });
      const signIn = await idle.app.inject({ method: 'POST', url: '/dashboard/sign-in', headers: FORM, payload: form({ api_key: API_KEY, api_secret: API_SECRET }) });
      const page = await idle.app.inject({ method: 'GET', url: `/dashboard/tasks/${queued.body.task_id}`, headers: { cookie: String(signIn.headers['set-cookie']).split(';')[0]! } });
      expect(page.body).toContain('<span class="badge task-pending">pending</span>');
      expect(page.body).toContain(`hx-get="/dashboard/tasks/${queued.body.task_id}/status" hx-trigger="every 1s" hx-swap="outerHTML"`);
      expect(page.body).toContain('<noscript><meta http-equiv="refresh" content="3"></noscript>');
    } finally {
      await idle.close();
    }

    const missing = await get('/dashboard/tasks/00000000-0000-4000-8000-000000000000');
    expect(missing.statusCode).toBe(404);
    const api = await server.request('GET', '/api/v2/tasks/00000000-0000-4000-8000-000000000000');
    expect(alertOf(missing.body)).toBe(api.body.message);
    expect(alertOf((await get('/dashboard/tasks/not-a-task')).body)).toBe('GetTask failed with error: "task "not-a-task" does not exist"');
  });

  it('exports a user, with a download link once the task completes', async () => {
    const done = await post('/dashboard/users/grace/export', { confirmed: 'yes' });
    const taskId = done.headers.location!.split('/').pop()!;
    await waitForTask(server.client, taskId);
    const page = await get(`/dashboard/tasks/${taskId}`);
    const link = decode(/<a href="([^"]+)" id="download"/.exec(page.body)![1]!);
    // Injected requests come from "localhost:80": the link is fetched from the server's real address.
    const url = new URL(link);
    expect(url.pathname).toMatch(/^\/exports\/users\/[0-9a-f-]{36}\.ndjson$/);
    const file = await fetch(new URL(`${url.pathname}${url.search}`, server.baseUrl));
    expect(file.status).toBe(200);
    expect(JSON.parse((await file.text()).trim())).toMatchObject({ user: { id: 'grace' } });
  });

  it('edits the honoured app settings after review, with the API\'s message for a refused one', async () => {
    const app0 = (await server.request('GET', '/api/v2/app')).body.app;
    const fields = { revoke_tokens_issued_before: '', enforce_unique_usernames: 'no', webhook_url: '', webhook_events: '', event_hooks: '[]' };
    const review = await post('/dashboard/app', { ...fields, enforce_unique_usernames: 'app', webhook_events: 'user.updated, user.deleted' });
    expect(review.statusCode).toBe(200);
    expect(decode(review.body)).toContain('"enforce_unique_usernames": "app"');
    expect((await server.request('GET', '/api/v2/app')).body.app).toEqual(app0);
    const saved = await post('/dashboard/app', { ...fields, enforce_unique_usernames: 'app', webhook_events: 'user.updated, user.deleted', confirmed: 'yes' });
    expect(saved.headers.location).toBe('/dashboard/app?notice=saved');
    expect((await server.request('GET', '/api/v2/app')).body.app).toMatchObject({ enforce_unique_usernames: 'app', webhook_events: ['user.updated', 'user.deleted'] });

    const cases: Array<[Record<string, string>, string]> = [
      [{ revoke_tokens_issued_before: 'yesterday' }, 'UpdateApp failed with error: "revoke_tokens_issued_before must be an RFC3339 date-time or null"'],
      [{ enforce_unique_usernames: 'world' }, 'UpdateApp failed with error: "enforce_unique_usernames must be one of [no app team]"'],
      [{ event_hooks: '[{"hook_type": "webhook"}]' }, 'UpdateApp failed with error: "event_hooks[0].webhook_url must be an absolute http or https URL"'],
      [{ event_hooks: '{' }, 'UpdateApp failed with error: "event_hooks is not valid JSON"'],
    ];
    for (const [change, message] of cases) {
      const refused = await post('/dashboard/app', { ...fields, enforce_unique_usernames: 'app', webhook_events: 'user.updated, user.deleted', ...change, confirmed: 'yes' });
      expect(refused.statusCode, message).toBe(400);
      expect(alertOf(refused.body)).toBe(message);
    }
    // Unique usernames now hold for the dashboard's edits too.
    const taken = await post('/dashboard/users/grace/edit', { name: 'Alan Turing', role: 'user', custom: '{}' });
    expect(alertOf(taken.body)).toBe('UpdateUsersPartial failed with error: "username \'Alan Turing\' already exists"');
  });

  it('charts monthly active users of the last 12 months, with the numbers as text', async () => {
    await server.request('GET', '/api/v2/users', { headers: { authorization: signToken({ user_id: 'grace', iat: Math.floor(Date.now() / 1000) - 5 }) } });
    const page = await get('/dashboard/app');
    const months = [...page.body.matchAll(/<tr><td>(\d{4}-\d\d)<\/td><td>(\d+)<\/td><\/tr>/g)].map((m) => [m[1], Number(m[2])]);
    expect(months).toHaveLength(12);
    // alan (an earlier test called as alan) and grace.
    expect(months.at(-1)).toEqual([new Date().toISOString().slice(0, 7), 2]);
    expect(months.slice(0, -1).every(([, n]) => n === 0)).toBe(true);
    expect(page.body).toContain('<svg viewBox="0 0 720 240" role="img" aria-labelledby="mau-title mau-desc"');
    expect(page.body.match(/<rect /g)).toHaveLength(12);
  });

  it('answers an unknown dashboard page with a 404 page, and a malformed form with the message', async () => {
    const unknown = await get('/dashboard/nothing-here');
    expect(unknown.statusCode).toBe(404);
    expect(alertOf(unknown.body)).toBe('Dashboard failed with error: "GET /dashboard/nothing-here is not a page of the dashboard"');
    const missingField = await post('/dashboard/users/ada/edit', { name: 'x' });
    expect(missingField.statusCode).toBe(400);
    expect(alertOf(missingField.body)).toBe('UpdateUsersPartial failed with error: "body must have required property \'role\'"');
    const json = await app.inject({ method: 'POST', url: '/dashboard/users/ada/edit', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf }, payload: '{"name": ' });
    expect(json.statusCode).toBe(400);
    expect(alertOf(json.body)).toBe('UpdateUsersPartial failed with error: "the request body is not valid JSON"');
  });
});
