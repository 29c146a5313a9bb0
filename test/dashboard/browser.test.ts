// The dashboard in a real browser (Debian's chromium, driven by playwright-core) against a running server: the
// operator's flows from sign-in to sign-out, each ending with a screenshot of its page (test-artifacts/), axe-core on
// every page (no serious or critical violation), no request leaving the machine and no console error.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskHandlers } from '../../src/tasks/handlers.js';
import { Worker } from '../../src/tasks/worker.js';
import { guardedContext, launchBrowser, screenshot, type GuardedContext } from '../helpers/browser.js';
import { API_KEY, API_SECRET, signToken, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

const XSS_NAME = '<img src=x onerror=alert(1)><script>alert(2)</script>';

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

describe('the dashboard in a browser', () => {
  let server: TestServer;
  let browser: Browser;
  let guarded: GuardedContext;
  let page: Page;
  let worker: Worker | undefined;
  const dialogs: string[] = [];
  /** Pages axe-core checked, with what it found (serious and critical only). */
  const audited = new Map<string, string[]>();

  /** axe-core on the page as it is now: the serious and critical violations, described. */
  async function audit(name: string): Promise<void> {
    // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not apply to.
    await page.evaluate(AXE_SOURCE);
    const violations = (await page.evaluate(async () => {
      const result = await (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe.run(document, {
        resultTypes: ['violations'],
      });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
    })) as AxeViolation[];
    const serious = violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
    audited.set(name, serious);
    expect(serious, `axe-core on the ${name} page`).toEqual([]);
  }

  /** Does `action` (a click, a key press) and waits for the page it leads to. */
  async function navigate(action: () => Promise<unknown>): Promise<void> {
    await Promise.all([page.waitForEvent('load'), action()]);
  }

  const path = () => new URL(page.url()).pathname;
  const nav = (name: string) => page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });
  const alertText = () => page.locator('#error').innerText();

  beforeAll(async () => {
    // No worker yet: the bulk-deletion flow starts one while its task page is open, to watch the task complete.
    server = await startTestServer({ dashboard: {}, worker: false });
    const users = {
      ada: { id: 'ada', name: 'Ada Lovelace', role: 'admin', teams: ['red'], custom: { color: 'blue', level: 3 } },
      grace: { id: 'grace', name: 'Grace Hopper', teams: ['blue'], custom: { color: 'red', languages: ['COBOL', 'FLOW-MATIC'] } },
      linus: { id: 'linus', name: 'Linus Torvalds', teams: ['red', 'blue'] },
      'bulk-1': { id: 'bulk-1', name: 'Bulk One' },
      'bulk-2': { id: 'bulk-2', name: 'Bulk Two' },
    };
    const upsert = await server.request('POST', '/api/v2/users', { body: { users } });
    expect(upsert.status, upsert.text).toBe(201);
    expect((await server.request('POST', '/api/v2/users/block', { body: { user_id: 'ada', blocked_user_id: 'grace' } })).status).toBe(201);
    // A user-token request: ada counts as active this month.
    const asAda = await server.request('GET', '/api/v2/users', { headers: { authorization: signToken({ user_id: 'ada', iat: Math.floor(Date.now() / 1000) - 5 }) } });
    expect(asAda.status, asAda.text).toBe(200);

    browser = await launchBrowser();
    guarded = await guardedContext(browser);
    page = await guarded.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    mkdirSync(DOCS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await server?.close();
  });

  it('signs in with the API key and secret (a wrong secret is refused with the message)', async () => {
    await navigate(() => page.goto(`${server.baseUrl}/dashboard`));
    expect(path()).toBe('/dashboard/sign-in');
    await audit('sign-in');

    await page.getByLabel('API key').fill(API_KEY);
    await page.getByLabel('API secret').fill('not-the-secret');
    await navigate(() => page.getByRole('button', { name: 'Sign in' }).click());
    expect(await alertText()).toBe('SignIn failed with error: "the API key or secret is wrong"');
    // The secret typed is not written back into the page.
    expect(await page.getByLabel('API secret').inputValue()).toBe('');

    await page.getByLabel('API secret').fill(API_SECRET);
    await navigate(() => page.getByRole('button', { name: 'Sign in' }).click());
    expect(path()).toBe('/dashboard/users');
    const cookies = await guarded.context.cookies();
    expect(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path }))).toEqual([
      { name: 'dashboard_session', httpOnly: true, sameSite: 'Strict', path: '/dashboard' },
    ]);
    // Neither the secret nor the session is in browser storage (htmx keeps only the current path there).
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
    expect(stored).not.toContain(API_SECRET);
    expect(stored).not.toContain(cookies[0]!.value);
    expect(await page.content()).not.toContain(API_SECRET);
    await audit('users');
    await screenshot(page, 'dashboard-1-signed-in');
  });

  it('finds a user by name prefix', async () => {
    await page.getByLabel('Name starts with').fill('ada lov');
    await navigate(() => page.getByRole('button', { name: 'Search' }).click());
    const ids = await page.locator('table.users tbody td:nth-child(2)').allInnerTexts();
    expect(ids).toEqual(['ada']);
    // The filter language's errors are the API's.
    await page.getByLabel("Filter (Stream's filter language, JSON)").fill('{"color": {"$regex": "r"}}');
    await navigate(() => page.getByRole('button', { name: 'Search' }).click());
    expect(await alertText()).toMatch(/^QueryUsers failed with error: ".*\$regex.*"$/);
    await page.getByLabel("Filter (Stream's filter language, JSON)").fill('');
    await navigate(() => page.getByRole('button', { name: 'Search' }).click());
    expect(await page.locator('table.users tbody tr').count()).toBe(1);
    await screenshot(page, 'dashboard-2-found-by-name');
  });

  it('opens the user and edits its custom data (invalid JSON refused with the API message first)', async () => {
    await navigate(() => page.getByRole('link', { name: 'ada', exact: true }).click());
    expect(path()).toBe('/dashboard/users/ada');
    expect(await page.locator('#custom-data').innerText()).toContain('"color": "blue"');
    await audit('user');

    await page.getByLabel('Custom data (a JSON object)').fill('{"color": "green",');
    await navigate(() => page.getByRole('button', { name: 'Review changes…' }).click());
    expect(await alertText()).toBe('UpdateUsersPartial failed with error: "custom is not valid JSON"');
    // The form keeps what was typed.
    expect(await page.getByLabel('Custom data (a JSON object)').inputValue()).toBe('{"color": "green",');

    await page.getByLabel('Custom data (a JSON object)').fill('{"color": "green", "level": 4, "tags": ["pioneer"]}');
    await navigate(() => page.getByRole('button', { name: 'Review changes…' }).click());
    expect(await page.locator('h1').innerText()).toBe('Save the changes to user ada?');
    expect(await page.locator('.confirm').innerText()).toMatch(/added: tags[\s\S]*changed: color, level/);
    await audit('confirmation');
    await navigate(() => page.getByRole('button', { name: 'Yes, save the changes' }).click());
    expect(path()).toBe('/dashboard/users/ada');
    expect(await page.locator('#notice').innerText()).toBe('The user was updated.');
    expect(JSON.parse(await page.locator('#custom-data').innerText())).toEqual({ color: 'green', level: 4, tags: ['pioneer'] });
    await screenshot(page, 'dashboard-3-edited', `${DOCS}dashboard-user.png`);
  });

  it('deactivates the user with the keyboard alone and sees its state change', async () => {
    // Tab to the Deactivate button, Enter, then Enter on the confirmation (its Confirm button has the focus).
    let focused = '';
    for (let presses = 0; presses < 80 && focused !== 'Deactivate…'; presses += 1) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    }
    expect(focused).toBe('Deactivate…');
    await navigate(() => page.keyboard.press('Enter'));
    expect(await page.locator('h1').innerText()).toBe('Deactivate user ada?');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm');
    await navigate(() => page.keyboard.press('Enter'));
    expect(path()).toBe('/dashboard/users/ada');
    expect(await page.locator('#notice').innerText()).toBe('The user was deactivated.');
    expect(await page.locator('dl.fields .badge').allInnerTexts()).toEqual(['deactivated']);
    expect(await page.getByRole('button', { name: 'Reactivate…' }).count()).toBe(1);
    await screenshot(page, 'dashboard-4-deactivated');
  });

  it('bulk deletes two users and watches the task complete', async () => {
    await navigate(() => nav('Users').click());
    await page.getByLabel('Select bulk-1').check();
    await page.getByLabel('Select bulk-2').check();
    await page.getByLabel('With the selected users').selectOption('delete');
    await page.getByLabel('Deletion').selectOption('soft');
    await navigate(() => page.getByRole('button', { name: 'Review…' }).click());
    expect(await page.locator('h1').innerText()).toBe('Soft delete 2 users?');
    await navigate(() => page.getByRole('button', { name: 'Yes, soft delete them' }).click());
    expect(path()).toMatch(/^\/dashboard\/tasks\/[0-9a-f-]{36}$/);
    const taskUrl = page.url();
    expect(await page.locator('#task-state .badge').innerText()).toBe('pending');
    expect(await page.locator('#task-status').getAttribute('hx-trigger')).toBe('every 1s');
    await audit('task');

    // A worker starts: the page's status part refreshes itself until the task is completed.
    worker = new Worker({ db: server.database.db, handlers: taskHandlers(server.app.services), listen: server.database.listen, leaseMs: 30_000, concurrency: 4, pollMs: 500, backoffMs: 100 });
    await worker.start();
    await page.locator('#task-state .badge.task-completed').waitFor({ timeout: 20_000 });
    expect(page.url()).toBe(taskUrl);
    expect(await page.locator('#task-status').getAttribute('hx-trigger')).toBeNull();
    expect(JSON.parse(await page.locator('#task-result').innerText())).toEqual({ 'bulk-1': { status: 'ok' }, 'bulk-2': { status: 'ok' } });
    await screenshot(page, 'dashboard-5-bulk-deleted');

    await navigate(() => nav('Tasks').click());
    expect(await page.locator('tbody tr').first().innerText()).toMatch(/DeleteUsers\s+completed/);
    await audit('tasks');
  });

  it('finds the deleted users with the toggle and restores one', async () => {
    await navigate(() => page.goto(`${server.baseUrl}/dashboard/users?name=bulk`));
    expect(await page.locator('#results-empty').count()).toBe(1);
    await page.getByLabel('Include deleted users').check();
    await navigate(() => page.getByRole('button', { name: 'Search' }).click());
    expect(await page.locator('table.users tbody td:nth-child(6)').allInnerTexts()).toEqual(['deleted (soft)', 'deleted (soft)']);

    await navigate(() => page.getByRole('link', { name: 'bulk-1', exact: true }).click());
    await navigate(() => page.getByRole('button', { name: 'Restore…' }).click());
    await navigate(() => page.getByRole('button', { name: 'Yes, restore' }).click());
    expect(await page.locator('#notice').innerText()).toBe('The user was restored.');
    expect(await page.locator('dl.fields .badge').allInnerTexts()).toEqual(['active']);
    await screenshot(page, 'dashboard-6-restored');

    // The whole list, deleted users included, for the README.
    await navigate(() => page.goto(`${server.baseUrl}/dashboard/users?deleted=on&sort=name&dir=asc`));
    expect(await page.locator('table.users tbody tr').count()).toBe(5);
    await screenshot(page, 'dashboard-users', `${DOCS}dashboard-users.png`);
  });

  it('exports a user and downloads the file once the task completes', async () => {
    await navigate(() => page.goto(`${server.baseUrl}/dashboard/users/grace`));
    await navigate(() => page.getByRole('button', { name: 'Export…' }).click());
    await navigate(() => page.getByRole('button', { name: 'Yes, export' }).click());
    expect(path()).toMatch(/^\/dashboard\/tasks\//);
    await page.locator('#download').waitFor({ timeout: 20_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
    const file = readFileSync(await download.path(), 'utf8');
    const lines = file.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ user: { id: 'grace', name: 'Grace Hopper', custom: { color: 'red' } }, messages: [], reactions: [] });
    await screenshot(page, 'dashboard-7-exported');
  });

  it('shows the app settings and monthly active users, and saves a setting', async () => {
    await navigate(() => nav('App').click());
    expect(await page.locator('svg[role="img"] title').textContent()).toBe('Monthly active users, last 12 months');
    const month = new Date().toISOString().slice(0, 7);
    expect(await page.locator('#mau-desc').textContent()).toContain(`${month}: 1.`);
    await audit('app');

    await page.getByLabel('Guest user creation disabled').check();
    await navigate(() => page.getByRole('button', { name: 'Review changes…' }).click());
    expect(await page.locator('.confirm pre').innerText()).toContain('"guest_user_creation_disabled": true');
    await navigate(() => page.getByRole('button', { name: 'Yes, save' }).click());
    expect(await page.locator('#notice').innerText()).toBe('The settings were saved.');
    expect(await page.getByLabel('Guest user creation disabled').isChecked()).toBe(true);
    // The API sees it.
    expect((await server.request('GET', '/api/v2/app')).body.app.guest_user_creation_disabled).toBe(true);

    await page.getByLabel('Webhook URL').fill('ftp://example.com/hook');
    await navigate(() => page.getByRole('button', { name: 'Review changes…' }).click());
    expect(await alertText()).toBe('UpdateApp failed with error: "webhook_url must be an absolute http or https URL"');
    await screenshot(page, 'dashboard-8-app');
  });

  it('shows the webhooks, and retries a failed delivery now', async () => {
    let accepting = false;
    const receiver = await startReceiver(() => ({ status: accepting ? 200 : 410 }));
    try {
      await server.request('PATCH', '/api/v2/app', { body: { event_hooks: [{ id: 'crm', hook_type: 'webhook', webhook_url: receiver.url('/in?key=secret-key') }] } });
      expect((await server.request('POST', '/api/v2/users', { body: { users: { hooked: { id: 'hooked' } } } })).status).toBe(201);
      await receiver.waitFor((all) => all.length >= 1);
      await navigate(() => nav('Webhooks').click());
      for (let i = 0; i < 50 && !(await page.getByRole('button', { name: 'Retry now' }).count()); i++) await navigate(() => page.reload());
      expect(await page.locator('main').innerText()).toContain('the receiver answered 410');
      expect(await page.content()).not.toContain('secret-key');
      await audit('webhooks');
      accepting = true;
      await navigate(() => page.getByRole('button', { name: 'Retry now' }).click());
      expect(await page.locator('#notice').innerText()).toBe('The failed deliveries are due again now.');
      await receiver.waitFor((all) => all.length >= 2);
      expect(receiver.received[1]!.headers['x-webhook-attempt']).toBe('2');
    } finally {
      await server.request('PATCH', '/api/v2/app', { body: { event_hooks: [] } });
      await receiver.close();
    }
  });

  it('shows names and custom data as text, never as markup', async () => {
    const xss = { id: 'xss', name: XSS_NAME, custom: { '</pre><script>alert(3)</script>': '<b>not bold</b>' } };
    expect((await server.request('POST', '/api/v2/users', { body: { users: { xss } } })).status).toBe(201);
    await navigate(() => page.goto(`${server.baseUrl}/dashboard/users/xss`));
    expect(await page.locator('dl.fields dd').nth(2).innerText()).toBe(XSS_NAME);
    expect(await page.locator('#custom-data').innerText()).toContain('"</pre><script>alert(3)</script>": "<b>not bold</b>"');
    expect(await page.locator('main script, main img, main b').count()).toBe(0);
    await navigate(() => page.goto(`${server.baseUrl}/dashboard/users?id=xss`));
    expect(await page.locator('main script, main img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('shows a failure as the API\'s message on a page of its own', async () => {
    await navigate(() => page.goto(`${server.baseUrl}/dashboard/users/nobody`));
    expect(await alertText()).toBe('QueryUsers failed with error: "user "nobody" does not exist"');
    await audit('error');
    await navigate(() => page.getByRole('link', { name: 'Back to the users' }).click());
    expect(path()).toBe('/dashboard/users');
  });

  it('signs out, after which every page sends the browser to sign in', async () => {
    await navigate(() => page.getByRole('button', { name: 'Sign out' }).click());
    expect(path()).toBe('/dashboard/sign-in');
    expect(await page.locator('#notice').innerText()).toBe('You have signed out.');
    expect(await guarded.context.cookies()).toEqual([]);
    for (const target of ['/dashboard', '/dashboard/users', '/dashboard/users/ada', '/dashboard/tasks', '/dashboard/webhooks', '/dashboard/app']) {
      await navigate(() => page.goto(`${server.baseUrl}${target}`));
      expect(path(), target).toBe('/dashboard/sign-in');
    }
    await screenshot(page, 'dashboard-9-signed-out');
  });

  it('made no request to another host, logged no console error, and passed axe-core on every page', () => {
    expect(guarded.external).toEqual([]);
    // Chromium logs every document answered with an error status; these are the refusals the flows asked for (the
    // wrong secret; invalid JSON, an unknown filter operator, a bad webhook URL; an unknown user). Nothing else was logged.
    const failed = (status: string) => `Failed to load resource: the server responded with a status of ${status}`;
    expect(guarded.errors).toEqual([failed('401 (Unauthorized)'), failed('400 (Bad Request)'), failed('400 (Bad Request)'), failed('400 (Bad Request)'), failed('404 (Not Found)')]);
    expect([...audited.keys()].sort()).toEqual(['app', 'confirmation', 'error', 'sign-in', 'task', 'tasks', 'user', 'users', 'webhooks']);
    expect([...audited.values()].flat()).toEqual([]);
  });
});
