// The API reference at /docs, in a real browser (Debian's chromium): it renders openapi.yaml, shows the operations,
// and loads nothing from anywhere but this server. GET /openapi.yaml serves the spec as checked in.
// backend-independent: the API reference page in a browser; it reads no user data.
import { readFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_PATH } from '../../src/api/docs.js';
import { guardedContext, launchBrowser, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('the API reference', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ worker: false, webhooks: false });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('serves openapi.yaml as checked in, without credentials', async () => {
    const response = await fetch(`${server.baseUrl}/openapi.yaml`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(await response.text()).toBe(await readFile(OPENAPI_PATH, 'utf8'));
  });

  it('gives Swagger UI the spec, as JSON and as YAML, pointed at the server the page came from', async () => {
    const checkedIn = parse(await readFile(OPENAPI_PATH, 'utf8'));
    const [json, yaml] = await Promise.all([fetch(`${server.baseUrl}/docs/json`), fetch(`${server.baseUrl}/docs/yaml`)]);
    expect([json.status, yaml.status]).toEqual([200, 200]);
    // (`duration`: as on every JSON answer of this server.)
    const { duration, ...fromJson } = await json.json();
    expect(duration).toMatch(/ms$/);
    expect(fromJson).toEqual({ ...checkedIn, servers: [{ url: '/', description: 'this server' }] });
    expect(parse(await yaml.text())).toEqual(fromJson);
    // Served again, unchanged: the document the plugin keeps was not written to by the first answer.
    const { duration: _again, ...secondJson } = await (await fetch(`${server.baseUrl}/docs/json`)).json();
    expect(secondJson).toEqual(fromJson);
    expect(parse(await (await fetch(`${server.baseUrl}/docs/yaml`)).text())).toEqual(fromJson);
  });

  it('renders /docs in a browser, finds UpdateUsers, and makes no request off this machine', async () => {
    const guard = await guardedContext(browser);
    const page = await guard.newPage();
    const served: string[] = [];
    page.on('requestfinished', (request) => served.push(request.url()));

    const response = await page.goto(`${server.baseUrl}/docs`, { waitUntil: 'networkidle' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/default-src 'self'/);
    await page.getByText('Stream-compatible users API').first().waitFor({ timeout: 15_000 });

    // The operation, by its OperationId (shown beside each route), under its path.
    const operation = page.locator('.opblock', { has: page.getByText('UpdateUsers', { exact: true }) }).first();
    await operation.waitFor({ timeout: 15_000 });
    await expect(operation.locator('.opblock-summary-path').textContent()).resolves.toContain('/api/v2/users');
    // Opened, it shows the request body schema the server validates with.
    await operation.locator('.opblock-summary-control').click();
    await page.getByText('UpdateUsersRequest').first().waitFor({ timeout: 10_000 });

    await screenshot(page, 'docs-update-users');
    expect(guard.external, 'requests to hosts other than this machine').toEqual([]);
    expect(guard.errors, 'console errors').toEqual([]);
    // Everything the page loaded came from this server: its script, styles and the spec.
    expect(served.some((url) => url.endsWith('/docs/json'))).toBe(true);
    expect(served.some((url) => /\/docs\/static\/swagger-ui-bundle\.js$/.test(url))).toBe(true);
    for (const url of served) expect(new URL(url).origin, url).toBe(server.baseUrl);
    await guard.context.close();
  });
});
