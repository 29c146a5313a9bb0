// The app under fuzz: built over a fresh test database (in-memory PGlite, or a throwaway PostgreSQL database when
// DATABASE_URL is set), with the routes it serves described from its own OpenAPI document, a small seeded world, and
// a dump of the state tables to tell whether a request changed anything.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { ROUTE_SCHEMAS } from '../../src/dashboard/forms.js';
import { credentialsOf } from '../../src/auth/core.js';
import { resolveCredentials } from '../../src/auth/credentials.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { describeRoutes, type DescribedRoute, type JsonSchema, type OpenapiDocument } from '../helpers/routes.js';
import { API_KEY, API_SECRET, serverToken } from '../helpers/server.js';

/** The seeded world: generators draw ids from it so that requests reach existing rows, not only 404s. */
export interface World {
  /** Active users; the first is the user caller's own, sharing the team "red" with the second. */
  active: string[];
  deactivated: string;
  /** Soft-deleted (its DeleteUsers task is pending: no worker runs during fuzzing). */
  deleted: string;
  /** An id no user has. */
  missing: string;
  /** `blocker` blocks `blocked`. */
  blocker: string;
  blocked: string;
  taskIds: string[];
}

export const WORLD_USERS = {
  alice: 'fz-alice',
  bob: 'fz-bob',
  carol: 'fz-carol',
  dave: 'fz-dave',
  erin: 'fz-erin',
} as const;

/**
 * Tables whose rows are the server's state: a refused request must leave every one of them exactly as it was.
 * (exports holds whole files and is written only by the task worker, which does not run while fuzzing.)
 */
const STATE_TABLES: Array<{ table: string; order: string }> = [
  { table: 'users', order: 'id' },
  { table: 'user_blocks', order: 'user_id, blocked_user_id' },
  { table: 'import_pending_blocks', order: 'user_id, blocked_user_id' },
  { table: 'tasks', order: 'id' },
  { table: 'app_settings', order: 'id' },
  { table: 'user_activity', order: 'month, user_id' },
  { table: 'user_tombstones', order: 'id_hash' },
  { table: 'webhook_deliveries', order: 'seq' },
];

// One statement for the whole dump, built by the database itself (row_to_json keeps every column, timestamps to the
// microsecond): one round trip per request.
const DUMP_SQL = `SELECT ${STATE_TABLES.map(
  ({ table, order }) => `(SELECT coalesce(json_agg(t ORDER BY ${order}), '[]'::json) FROM ${table} t)::text AS ${table}`,
).join(', ')}`;

/**
 * A change counter: a statement-level trigger on every state table advances a sequence (a sequence is not rolled
 * back, so a statement in a transaction that rolled back counts too). A case whose counter did not move changed no
 * row, and is not dumped: the counter is one cheap read where the dump is most of a case's time. A case that moved it
 * is dumped and compared as before.
 */
const CHANGE_COUNTER_SQL = [
  'CREATE SEQUENCE fuzz_changes',
  `CREATE FUNCTION fuzz_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('fuzz_changes'); RETURN NULL; END $$`,
  ...STATE_TABLES.map(({ table }) => `CREATE TRIGGER fuzz_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION fuzz_changed()`),
];
const CHANGES_SQL = `SELECT last_value::text || ':' || is_called::text AS changes FROM fuzz_changes`;

export interface InjectResult {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

async function addChangeCounter(database: TestDatabase): Promise<void> {
  for (const statement of CHANGE_COUNTER_SQL) await sql.raw(statement).execute(database.db);
}

export class FuzzEnvironment {
  app!: FastifyInstance;
  world!: World;
  routes: DescribedRoute[] = [];
  /** The dump after the last request (or the seeding): what a refused request must leave unchanged. */
  lastDump = '';
  /** The change counter when lastDump was taken. */
  private lastChanges = '';
  /** The dump right after the last reset seeded the world. */
  private seededDump: string | undefined;
  /** Cases run so far (some checks run every so many cases). */
  cases = 0;
  /** Set once the database stopped answering: the report of the case that broke it. */
  deadSince: string | undefined;
  /** The dashboard operator's session, signed in afresh by every reset. */
  operator: { cookie: string; csrf: string } | undefined;

  private constructor(public database: TestDatabase, private readonly rateLimitMultiplier: number) {}

  static async create(options: { rateLimitMultiplier?: number } = {}): Promise<FuzzEnvironment> {
    const database = await createTestDatabase();
    const env = new FuzzEnvironment(database, options.rateLimitMultiplier ?? 100_000);
    await addChangeCounter(database);
    await resolveCredentials(database.db, { apiKey: API_KEY, apiSecret: API_SECRET }, false);
    env.routes = await env.describe();
    await env.reset();
    return env;
  }

  /** The served routes of the app as fuzzed, each with the schemas of the OpenAPI document the app generates. */
  private async describe(): Promise<DescribedRoute[]> {
    // The document comes from a twin built with @fastify/swagger; the routes from an app built as production builds
    // it, so that a route the document misses is still fuzzed (with generic inputs).
    const specApp = await buildApp({
      db: this.database.db,
      credentials: credentialsOf(API_KEY, API_SECRET),
      logger: false,
      openapi: true,
      metrics: { token: 'fuzz-metrics-token-never-sent' },
    });
    let document: OpenapiDocument;
    try {
      await specApp.ready();
      document = specApp.swagger() as OpenapiDocument;
    } finally {
      await specApp.close();
    }
    this.app = await this.buildFuzzApp();
    // The dashboard's HTML form routes are not in the document: their own schemas shape their forms.
    const plain = (schema: unknown) => (schema === undefined ? undefined : (JSON.parse(JSON.stringify(schema)) as JsonSchema));
    return describeRoutes(this.app, document).map((route) => {
      const schemas = route.path.startsWith('/dashboard') ? ROUTE_SCHEMAS[`${route.method} ${route.path.slice('/dashboard'.length) || '/'}`] : undefined;
      return schemas ? { ...route, form: { querystring: plain(schemas.querystring), body: plain(schemas.body) } } : route;
    });
  }

  private async buildFuzzApp(): Promise<FastifyInstance> {
    const app = await buildApp({
      db: this.database.db,
      credentials: credentialsOf(API_KEY, API_SECRET),
      logger: false,
      // Far above what fuzzing sends in a minute: a 429 is a correct answer, but one that would hide everything else.
      rateLimit: { multiplier: this.rateLimitMultiplier, overrides: {}, addressPerMinute: 1_000_000_000 },
      // Served as in production with a token; the fuzz callers never have it.
      metrics: { token: 'fuzz-metrics-token-never-sent' },
      // The dashboard, with its sign-in limit out of reach likewise.
      dashboard: { signInLimit: { failures: 1_000_000_000, windowMs: 60_000 } },
    });
    await app.ready();
    return app;
  }

  /**
   * Freshly seeded tables, so that each property starts from the same world whatever the previous one did. The app
   * is built once (building compiles every schema: a quarter of a second); its in-process state is harmless across
   * properties: the settings cache is refreshed by the PATCH below, and the activity recorder only skips writes.
   */
  async reset(): Promise<void> {
    if (!this.app) this.app = await this.buildFuzzApp();
    // Nothing to do when the last property left the seeded world as it was (every one of its requests refused, or
    // changing nothing): the state tables are the seeded dump, and the tables the dump leaves out are still empty
    // (a sign-out there would have ended the operator's session).
    if (this.seededDump !== undefined && this.lastDump === this.seededDump && (await this.unseededRows()) === 0) return;
    await sql`TRUNCATE users, user_blocks, import_pending_blocks, tasks, exports, user_activity, user_connections, user_tombstones, webhook_deliveries, dashboard_sign_outs`.execute(this.database.db);
    await this.seedRequest('PATCH', '/api/v2/app', {
      revoke_tokens_issued_before: null,
      guest_user_creation_disabled: false,
      enforce_unique_usernames: 'no',
      multi_tenant_enabled: false,
      // A hook that takes every event, so that requests write deliveries (and a refused one must write none). No
      // dispatcher runs while fuzzing: nothing is sent.
      webhook_url: 'http://127.0.0.1:9/fuzz-hook',
      webhook_events: [],
      event_hooks: [],
    });
    this.world = await this.seed();
    this.operator = await this.signIn();
    this.lastDump = await this.dump();
    this.lastChanges = await this.changes();
    this.seededDump = this.lastDump;
  }

  /** Rows in the tables that reset() empties and the dump does not compare. */
  private async unseededRows(): Promise<number> {
    const result = await sql<{ rows: number }>`
      SELECT (SELECT count(*) FROM exports) + (SELECT count(*) FROM user_connections) + (SELECT count(*) FROM dashboard_sign_outs) AS rows`.execute(this.database.db);
    return Number(result.rows[0]?.rows ?? -1);
  }

  /** Signs in to the dashboard as its operator: the session cookie, and the CSRF token its pages carry. */
  private async signIn(): Promise<{ cookie: string; csrf: string }> {
    const response = await this.app.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ api_key: API_KEY, api_secret: API_SECRET }).toString(),
    });
    if (response.statusCode !== 303) throw new Error(`signing in to the dashboard answered ${response.statusCode}: ${response.body}`);
    const cookie = String(response.headers['set-cookie']).split(';')[0]!;
    const page = await this.app.inject({ method: 'GET', url: '/dashboard/users', headers: { cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    if (!csrf) throw new Error(`the dashboard's users page has no CSRF token: ${page.statusCode}`);
    return { cookie, csrf };
  }

  /** After the database died (the embedded one can be broken by a request): a new database, app and world. */
  async revive(): Promise<void> {
    await this.app?.close().catch(() => {});
    await this.database.drop().catch(() => {});
    this.database = await createTestDatabase();
    await addChangeCounter(this.database);
    await resolveCredentials(this.database.db, { apiKey: API_KEY, apiSecret: API_SECRET }, false);
    this.app = await this.buildFuzzApp();
    this.deadSince = undefined;
    this.seededDump = undefined;
    await this.reset();
  }

  private async seedRequest(method: 'POST' | 'PATCH', url: string, body: object): Promise<any> {
    const response = await this.app.inject({
      method,
      url: `${url}?api_key=${API_KEY}`,
      headers: { 'stream-auth-type': 'jwt', authorization: serverToken(), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    if (response.statusCode >= 300) throw new Error(`seeding ${method} ${url} answered ${response.statusCode}: ${response.body}`);
    return response.json();
  }

  /** Seeds through the API itself, so that the rows are exactly what the server would have written. */
  private async seed(): Promise<World> {
    const { alice, bob, carol, dave, erin } = WORLD_USERS;
    await this.seedRequest('POST', '/api/v2/users', {
      users: {
        [alice]: { id: alice, name: 'Alice', teams: ['red', 'blue'], custom: { color: 'red', nested: { level: 1 } } },
        [bob]: { id: bob, name: 'Bob', teams: ['red'], role: 'admin' },
        [carol]: { id: carol, name: 'Carol', language: 'fr' },
        [dave]: { id: dave, name: 'Dave', teams: ['blue'] },
        [erin]: { id: erin, name: 'Erin' },
      },
    });
    await this.seedRequest('POST', `/api/v2/users/${dave}/deactivate`, {});
    const deletion = await this.seedRequest('POST', '/api/v2/users/delete', { user_ids: [erin], user: 'soft' });
    await this.seedRequest('POST', '/api/v2/users/block', { user_id: alice, blocked_user_id: bob });
    const exported = await this.seedRequest('POST', '/api/v2/export/users', { user_ids: [alice] });
    return {
      active: [alice, bob, carol],
      deactivated: dave,
      deleted: erin,
      missing: 'fz-nobody',
      blocker: alice,
      blocked: bob,
      taskIds: [deletion.task_id, exported.task_id],
    };
  }

  /**
   * The dump after a request: lastDump again when no state table saw a write since it was taken (the change counter
   * did not move), else a new one. Throws if the database no longer answers.
   */
  async dumpAfterRequest(): Promise<string> {
    const changes = await this.changes();
    if (changes === this.lastChanges) return this.lastDump;
    const dump = await this.dump();
    this.lastChanges = changes;
    return dump;
  }

  private async changes(): Promise<string> {
    const result = await sql.raw<{ changes: string }>(CHANGES_SQL).execute(this.database.db);
    const changes = result.rows[0]?.changes;
    // A broken embedded database can answer with no rows at all rather than an error.
    if (typeof changes !== 'string') throw new Error(`the database answered the change counter with ${JSON.stringify(result.rows).slice(0, 200)}`);
    return changes;
  }

  /** The state tables as one deterministic JSON text. Throws if the database no longer answers. */
  async dump(): Promise<string> {
    const result = await sql.raw<Record<string, string>>(DUMP_SQL).execute(this.database.db);
    const row = result.rows[0];
    // A broken embedded database can answer with no rows at all rather than an error.
    if (!row || STATE_TABLES.some(({ table }) => typeof row[table] !== 'string')) {
      throw new Error(`the database answered the dump with ${JSON.stringify(result.rows).slice(0, 200)}`);
    }
    return JSON.stringify(row);
  }

  async close(): Promise<void> {
    await this.app?.close().catch(() => {});
    await this.database.drop().catch(() => {});
  }
}
