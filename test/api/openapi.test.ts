// openapi.yaml is generated from the route schemas (`npm run openapi`): it must be up to date, describe exactly the
// routes the server serves, and lint clean.
// backend-independent: the route schemas and the document made from them; no query is made.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateOpenapi } from '../../scripts/openapi.js';
import { buildApp } from '../../src/app.js';
import { credentialsOf } from '../../src/auth/core.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { migratedTemplate } from '../helpers/database.js';
import { fastifyPath, servedRoutes } from '../helpers/routes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const specPath = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Operation {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface Spec {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, { type?: string; format?: string }> }> };
}

describe('openapi.yaml', () => {
  let generated: string;
  let spec: Spec;
  let database: DatabaseHandle;
  let app: FastifyInstance;

  beforeAll(async () => {
    // One in-memory database for both apps (neither queries it), from the bundle's template: starting PGlite is the
    // slow part, and initdb the slowest of it.
    database = await openDatabase({ dataDir: 'memory://', loadDataDir: migratedTemplate() });
    generated = await generateOpenapi({ db: database.db });
    spec = parse(generated) as Spec;
    // The app as production builds it (no @fastify/swagger), for the routes actually served; with /metrics and the
    // dashboard on, whose HTML routes are deliberately left out of the document.
    app = await buildApp({ db: database.db, credentials: credentialsOf('openapi', 'openapi-test-secret'), logger: false, metrics: {}, dashboard: {} });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  it('is up to date with the route schemas', async () => {
    const checkedIn = await readFile(specPath, 'utf8').catch(() => '');
    expect(checkedIn, 'openapi.yaml is missing or stale: run `npm run openapi` and commit the result').toBe(generated);
  });

  it('is OpenAPI 3.1 with the Stream operations, named component schemas and integer date-times', () => {
    expect(spec.openapi).toBe('3.1.0');
    const operations = new Map<string, { path: string; operation: Operation }>();
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!HTTP_METHODS.includes(method)) continue;
        expect(operation.operationId, `${method.toUpperCase()} ${path} has an operationId`).toBeTruthy();
        expect(operations.has(operation.operationId!), `operationId ${operation.operationId} is unique`).toBe(false);
        operations.set(operation.operationId!, { path, operation });
      }
    }
    for (const id of ['UpdateUsers', 'UpdateUsersPartial', 'QueryUsers', 'CreateGuest', 'BlockUsers', 'UnblockUsers', 'GetBlockedUsers']) {
      expect(operations.get(id)?.path, `operation ${id}`).toMatch(/^\/api\/v2\//);
    }

    const schemaNames = Object.keys(spec.components.schemas);
    expect(schemaNames).toEqual(expect.arrayContaining(['APIError', 'UserRequest', 'FullUserResponse', 'UserResponse']));
    expect(schemaNames.filter((name) => /^def-\d+$/.test(name))).toEqual([]);
    expect(generated).not.toMatch(/#\/components\/schemas\/def-\d+/);

    for (const [id, { path, operation }] of operations) {
      if (!path.startsWith('/api/v2/')) continue;
      for (const status of ['4XX', '5XX']) {
        expect(operation.responses?.[status]?.content?.['application/json']?.schema?.$ref, `${id} ${status}`).toBe('#/components/schemas/APIError');
      }
    }

    for (const field of ['created_at', 'updated_at', 'last_active', 'deactivated_at']) {
      expect(spec.components.schemas.FullUserResponse?.properties?.[field]).toMatchObject({ type: 'integer', format: 'int64' });
    }
    expect(spec.components.schemas.BlockUsersResponse?.properties?.created_at).toMatchObject({ type: 'integer', format: 'int64' });
  });

  it('describes exactly the routes the server serves', () => {
    const served = servedRoutes(app);
    expect(served.length).toBeGreaterThan(0);
    // The pages for people (the API reference and its assets) are not part of the API. (Their static-file wildcard
    // prints oddly in the route tree.)
    const forPeople = /^(GET|HEAD) \/docs(\/|\*|$)/;
    expect(served.filter((route) => forPeople.test(route)).length, 'the /docs page is served').toBeGreaterThan(0);
    // The route tree was read correctly: each route it lists is one Fastify knows.
    for (const route of served.filter((route) => !forPeople.test(route))) {
      const [method, url] = route.split(' ') as [HTTPMethods, string];
      expect(app.hasRoute({ method, url }), `parsed route ${route}`).toBe(true);
    }

    const documented: string[] = [];
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const method of Object.keys(item).filter((key) => HTTP_METHODS.includes(key))) {
        documented.push(`${method.toUpperCase()} ${fastifyPath(path)}`);
      }
    }
    for (const route of documented) {
      const [method, url] = route.split(' ') as [HTTPMethods, string];
      expect(app.hasRoute({ method, url }), `${route} is in openapi.yaml but not served`).toBe(true);
    }

    // The operator dashboard (HTML pages under /dashboard) is not part of the API: served, and not documented.
    const isDashboard = (route: string) => /^\/dashboard(\/|$)/.test(route.split(' ')[1]!);
    expect(served.filter(isDashboard).length).toBeGreaterThan(10);
    expect(documented.filter(isDashboard)).toEqual([]);

    // Fastify answers HEAD for every GET route by itself; the spec lists those GET routes only.
    const undocumented = served.filter(
      (route) =>
        !isDashboard(route) &&
        !documented.includes(route) &&
        !forPeople.test(route) &&
        !(route.startsWith('HEAD ') && documented.includes(route.replace(/^HEAD /, 'GET '))),
    );
    expect(undocumented, 'served routes missing from openapi.yaml (hidden, or generated before they existed?)').toEqual([]);
  });

  it('passes redocly lint', async () => {
    const run = promisify(execFile);
    const result = await run('npx', ['--no', 'redocly', 'lint', 'openapi.yaml'], {
      cwd: root,
      timeout: 60_000,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    }).then(
      (output) => ({ code: 0, output: `${output.stdout}\n${output.stderr}` }),
      (error: { code?: number | string; stdout?: string; stderr?: string }) => ({
        code: error.code ?? 1,
        output: `${error.stdout ?? ''}\n${error.stderr ?? ''}`,
      }),
    );
    expect(result.code, result.output).toBe(0);
  }, 60_000);
});
