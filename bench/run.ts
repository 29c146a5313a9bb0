// `npm run bench`: throughput of POST /api/v2/users against a bare-SQL baseline, queryUsers latency, and the task
// queue's latency and drain rate, for both backends (embedded PGlite, then PostgreSQL when reachable). The server runs
// as its own process (`node --import tsx src/server.ts`, configured through the environment) as in production, so
// that it does not share an event loop with the load generator or the baseline's driver. Not a test: it prints
// figures, ending with Markdown tables for the README.
//
// PostgreSQL: server and baseline run together against one throwaway database, alternating over rounds. PGlite is
// single-process and the server holds its data dir, so there the baseline runs in a phase of its own, on its own
// PGlite instance (same schema) in the benchmark process; the server's data is checked through the API; and the
// queryUsers data set is bulk-loaded into a data dir before the server is started on it.
//
// Environment (all optional):
//   BENCH_USERS=20000           users upserted (fresh ids), in requests of 100
//   BENCH_QUERY_USERS=100000    users bulk-loaded for the queryUsers latencies
//   BENCH_QUERY_REQUESTS=2000   sequential requests per query shape (after a warm-up of a tenth as many)
//   BENCH_CONCURRENCY=8         concurrent connections for the upserts and the task drain (and pg pool size of the baseline)
//   BENCH_ROUNDS=4              the upserts run over this many rounds (alternating server and baseline on PostgreSQL)
//   BENCH_TASK_RUNS=300         sequential deactivations timed from request to completed task
//   BENCH_TASK_POLL_MS=2        how often each of those polls GET /api/v2/tasks/{id}
//   BENCH_TASK_DRAIN=1000       DeactivateUsers tasks enqueued for the drain rate
//   BENCH_DRAIN_POLL_MS=5       how often the drain's completion is polled
//   BENCH_BACKENDS=pglite,postgres
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432   (a throwaway bench_* database is created and dropped)
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { Bench, type Statistics } from 'tinybench';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import type { Database } from '../src/db/schema.js';
import {
  baselineParams,
  baselineSql,
  bulkLoadUsers,
  COLORS,
  FIRST_NAMES,
  makeBatches,
  queryUserId,
  upsertBody,
  type BenchUser,
} from './data.js';
import { BenchClient, expectStatus } from './http.js';
import { quantile, random, runConcurrently, sleep, statistics, type Summary } from './measure.js';
import { fmtInt, fmtMs, markdownTable, textTable } from './report.js';
import { ROOT, startServer, type ServerProcess } from './server.js';
import { apiDrainWatcher, benchTasks, type DrainWatcher, type TaskFigures } from './tasks.js';

const API_KEY = 'benchkey';
const API_SECRET = randomBytes(24).toString('base64url');
const BATCH_SIZE = 100; // the API's maximum per request

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

const config = {
  users: envInt('BENCH_USERS', 20_000, BATCH_SIZE),
  queryUsers: envInt('BENCH_QUERY_USERS', 100_000, 100),
  queryRequests: envInt('BENCH_QUERY_REQUESTS', 2_000, 10),
  concurrency: envInt('BENCH_CONCURRENCY', 8, 1),
  rounds: envInt('BENCH_ROUNDS', 4, 1),
  taskRuns: envInt('BENCH_TASK_RUNS', 300, 10),
  taskPollMs: envInt('BENCH_TASK_POLL_MS', 2, 0),
  taskDrain: envInt('BENCH_TASK_DRAIN', 1_000, 10),
  drainPollMs: envInt('BENCH_DRAIN_POLL_MS', 5, 1),
  backends: (process.env.BENCH_BACKENDS ?? 'pglite,postgres').split(',').map((s) => s.trim().toLowerCase()),
  postgresUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432',
};
const warmupBatches = 2 * config.concurrency;
const queryWarmup = Math.max(20, Math.round(config.queryRequests / 10));
const taskWarmup = 20;
if (config.taskRuns + config.taskDrain + taskWarmup > config.users) {
  throw new Error(`BENCH_USERS (${config.users}) must cover the task benchmark's ${taskWarmup + config.taskRuns + config.taskDrain} deactivations`);
}

// ---------------------------------------------------------------------------------------------------------------
// Clean-up that runs on success, failure and Ctrl-C alike
// ---------------------------------------------------------------------------------------------------------------

const cleanups: Array<() => Promise<unknown>> = [];
let interrupted = false;

let cleaning: Promise<void> = Promise.resolve();

/** Runs (newest first) the clean-ups registered after the first `keep`; one run at a time, in call order. */
function runCleanups(keep = 0): Promise<void> {
  cleaning = cleaning.then(async () => {
    while (cleanups.length > keep) {
      const cleanup = cleanups.pop()!;
      try {
        await cleanup();
      } catch (error) {
        console.error(`clean-up failed: ${(error as Error).message}`);
      }
    }
  });
  return cleaning;
}

/** Runs `fn`, then the clean-ups it registered (temp dirs, servers, databases), success or not. */
async function phase<T>(fn: () => Promise<T>): Promise<T> {
  const mark = cleanups.length;
  try {
    return await fn();
  } finally {
    await runCleanups(mark);
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: cleaning up…`);
    void runCleanups().finally(() => process.exit(130));
  });
}

function log(line: string) {
  console.log(line);
}

/** Where the PGlite data dirs and the servers' logs go; removed at the end. */
let workDir = '';

function tempDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(workDir, `${name}-`));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------------------------

interface RunningServer {
  process: ServerProcess;
  client: BenchClient;
  startSeconds: number;
  /** SIGTERM and wait; fails unless the server exits cleanly. */
  stop(): Promise<void>;
}

let serverCount = 0;

/** Starts `node --import tsx src/server.ts` with the production configuration, plus `env` (database). */
async function launchServer(label: string, env: Record<string, string>): Promise<RunningServer> {
  const logFile = path.join(workDir, `server-${++serverCount}-${label}.log`);
  const t0 = performance.now();
  const server = await startServer({
    logFile,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      WS_PORT: '0',
      LOG_LEVEL: 'info', // as in production: logs every request, and the line that gives the port
      STREAM_API_KEY: API_KEY,
      STREAM_API_SECRET: API_SECRET,
      RATE_LIMIT_MULTIPLIER: '1000000',
      ...env,
    },
  });
  cleanups.push(async () => server.kill());
  const startSeconds = (performance.now() - t0) / 1000;
  const client = await BenchClient.create(server.url, API_KEY, API_SECRET, config.concurrency);
  cleanups.push(async () => client.close());
  log(`  server process ${server.pid} (${label}) serving on ${server.url}, started in ${startSeconds.toFixed(1)} s`);
  return {
    process: server,
    client,
    startSeconds,
    async stop() {
      client.close();
      const code = await server.stop();
      if (code !== 0) throw new Error(`the server exited with code ${code} on SIGTERM; its log:\n${server.logTail()}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Upserts
// ---------------------------------------------------------------------------------------------------------------

interface Throughput {
  usersPerSecond: number;
  seconds: number;
  /** users/s of each round, in order. */
  rounds: number[];
  /** Per-request latency under load (ms), over all rounds. */
  latency: { p50: number; p99: number };
}

/** The same rows for the server and the baseline: warm-up batches first, then the measured ones. */
interface Workload {
  batches: BenchUser[][];
  bodies: Buffer[];
  params: unknown[][];
  /** Users in each measured batch. */
  measured: number[];
  /** Ids of the measured users, in order. */
  measuredIds: string[];
  avgBytes: number;
}

function makeWorkload(): Workload {
  const batches = [...makeBatches('w', warmupBatches * BATCH_SIZE, BATCH_SIZE), ...makeBatches('u', config.users, BATCH_SIZE)];
  const bodies = batches.map(upsertBody);
  return {
    batches,
    bodies,
    params: batches.map(baselineParams),
    measured: batches.slice(warmupBatches).map((batch) => batch.length),
    measuredIds: batches.slice(warmupBatches).flatMap((batch) => batch.map((user) => user.id)),
    avgBytes: bodies.slice(warmupBatches).reduce((sum, body) => sum + body.length, 0) / config.users,
  };
}

interface UpsertPath {
  name: string;
  /** One call per batch: warm-up batches first, then the measured ones. */
  calls: Array<() => Promise<unknown>>;
}

function serverPath(client: BenchClient, workload: Workload): UpsertPath {
  return {
    name: 'server',
    calls: workload.bodies.map(
      (body) => async () => expectStatus(await client.request('POST', '/api/v2/users', {}, body), 201, 'POST /api/v2/users'),
    ),
  };
}

function baselinePath(bare: (text: string, params: unknown[]) => Promise<unknown>, workload: Workload): UpsertPath {
  const statements = new Map<number, string>();
  const statementFor = (rows: number) => {
    if (!statements.has(rows)) statements.set(rows, baselineSql('users_baseline', rows));
    return statements.get(rows)!;
  };
  return { name: 'baseline', calls: workload.batches.map((batch, i) => () => bare(statementFor(batch.length), workload.params[i]!)) };
}

/**
 * Measures the paths in rounds; with two paths they alternate (A B, B A, A B, …), each preceded by `beforeRound`
 * (a CHECKPOINT), so that what one path leaves behind (dirty buffers, GIN pending lists, table growth) weighs on both
 * alike; short single runs on a small machine otherwise swing by ±50%. Each path first runs its warm-up batches,
 * unmeasured.
 */
async function measureUpserts(paths: UpsertPath[], measured: number[], beforeRound?: () => Promise<unknown>): Promise<Throughput[]> {
  for (const path of paths) await runConcurrently(`${path.name} warm-up`, path.calls.slice(0, warmupBatches), config.concurrency);
  const perRound = Math.ceil(measured.length / config.rounds);
  const totals = paths.map(() => ({ seconds: 0, rounds: [] as number[], samples: [] as number[] }));
  for (let round = 0; round * perRound < measured.length; round++) {
    const from = round * perRound;
    const to = Math.min(measured.length, from + perRound);
    const users = measured.slice(from, to).reduce((a, b) => a + b, 0);
    const order = round % 2 === 0 ? paths.map((_, i) => i) : paths.map((_, i) => paths.length - 1 - i);
    for (const i of order) {
      await beforeRound?.();
      const calls = paths[i]!.calls.slice(warmupBatches + from, warmupBatches + to);
      const { seconds, samples } = await runConcurrently(paths[i]!.name, calls, config.concurrency);
      totals[i]!.seconds += seconds;
      totals[i]!.rounds.push(users / seconds);
      totals[i]!.samples.push(...samples);
    }
  }
  const users = measured.reduce((a, b) => a + b, 0);
  return totals.map((total) => {
    const sorted = total.samples.sort((a, b) => a - b);
    return {
      usersPerSecond: users / total.seconds,
      seconds: total.seconds,
      rounds: total.rounds,
      latency: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) },
    };
  });
}

/** JSON with sorted keys, for comparing stored values with what was sent (jsonb reorders keys). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

interface StoredUser {
  id: string;
  name?: string | null;
  image?: string | null;
  role?: string;
  language?: string;
  teams?: string[];
  teams_role?: unknown;
  invisible?: boolean;
  privacy_settings?: unknown;
  custom?: unknown;
}

/** The columns the baseline writes, as stored for `user` (null where the server stores nothing). */
function storedShape(user: StoredUser): string {
  return canonical({
    name: user.name ?? null,
    image: user.image ?? null,
    role: user.role,
    language: user.language,
    teams: user.teams,
    teams_role: user.teams_role ?? null,
    invisible: user.invisible,
    privacy_settings: user.privacy_settings ?? null,
    custom: user.custom,
  });
}

/** Compares stored users with those sent; throws on a missing, extra or differing user. */
function compareUsers(what: string, stored: StoredUser[], workload: Workload) {
  const expected = new Map(workload.batches.flat().map((user) => [user.id, storedShape({ ...user, language: '', invisible: false })]));
  let differing = 0;
  let example = '';
  for (const user of stored) {
    const want = expected.get(user.id);
    if (want === undefined) throw new Error(`${what}: unexpected user ${user.id}`);
    if (storedShape(user) !== want) {
      differing++;
      example ||= `${user.id}: stored ${storedShape(user)}, sent ${want}`;
    }
  }
  if (stored.length !== expected.size) throw new Error(`${what}: ${stored.length} users stored, expected ${expected.size}`);
  if (differing > 0) throw new Error(`${what}: ${differing} users differ from what was sent, e.g. ${example}`);
}

/** Reads every sent user back through queryUsers (100 ids per request) and compares. */
async function checkUsersViaApi(client: BenchClient, workload: Workload) {
  const ids = workload.batches.flat().map((user) => user.id);
  const stored: StoredUser[] = [];
  await runConcurrently(
    'read back',
    Array.from({ length: Math.ceil(ids.length / 100) }, (_, k) => async () => {
      const payload = { filter_conditions: { id: { $in: ids.slice(k * 100, k * 100 + 100) } }, limit: 100 };
      const response = expectStatus(await client.request('GET', '/api/v2/users', { payload: JSON.stringify(payload) }), 200, 'queryUsers (read back)');
      stored.push(...(JSON.parse(response.body.toString('utf8')) as { users: StoredUser[] }).users);
    }),
    config.concurrency,
  );
  compareUsers('server (read back through queryUsers)', stored, workload);
}

// ---------------------------------------------------------------------------------------------------------------
// queryUsers
// ---------------------------------------------------------------------------------------------------------------

interface QueryFigures {
  name: string;
  payload: string;
  latency: Statistics;
}

async function benchQueries(client: BenchClient): Promise<QueryFigures[]> {
  const rand = random(42);
  const query = (payload: object) => client.request('GET', '/api/v2/users', { payload: JSON.stringify(payload) });
  // At least this many users match each filter (shares of the bulk-loaded set), up to the page size of 30.
  const atLeast = (share: number) => Math.min(30, Math.floor(config.queryUsers / share));
  type Answer = Array<{ id: string; name?: string; custom?: { color?: unknown } }>;
  const shapes: Array<{ name: string; payload: string; make: () => any; check: (users: Answer, payload: any) => boolean }> = [
    {
      name: 'id lookup',
      payload: '{"filter_conditions":{"id":"<random existing id>"}}',
      make: () => ({ filter_conditions: { id: queryUserId(1 + Math.floor(rand() * config.queryUsers)) } }),
      check: (users, payload) => users.length === 1 && users[0]!.id === payload.filter_conditions.id,
    },
    {
      name: 'custom field',
      payload: '{"filter_conditions":{"color":"red"},"limit":30}',
      make: () => ({ filter_conditions: { color: 'red' }, limit: 30 }),
      check: (users) => users.length >= atLeast(COLORS.length) && users.length <= 30 && users.every((u) => u.custom?.color === 'red'),
    },
    {
      name: '$autocomplete',
      payload: '{"filter_conditions":{"name":{"$autocomplete":"<3 letters of a first name>"}}}',
      make: () => ({ filter_conditions: { name: { $autocomplete: FIRST_NAMES[Math.floor(rand() * FIRST_NAMES.length)]!.slice(0, 3).toLowerCase() } } }),
      check: (users, payload) =>
        users.length >= atLeast(FIRST_NAMES.length) &&
        users.length <= 30 &&
        users.every((u) => (u.name ?? '').toLowerCase().split(' ').some((word) => word.startsWith(payload.filter_conditions.name.$autocomplete))),
    },
  ];
  // Correctness first (outside the timed window): each shape answers what it should.
  for (const shape of shapes) {
    const payload = shape.make();
    const response = expectStatus(await query(payload), 200, `queryUsers ${shape.name}`);
    const users = (JSON.parse(response.body.toString('utf8')) as { users: Answer }).users;
    if (!shape.check(users, payload)) throw new Error(`queryUsers ${shape.name}: unexpected answer to ${JSON.stringify(payload)}: ${users.length} users`);
  }

  const bench = new Bench({
    iterations: config.queryRequests,
    time: 0,
    warmupIterations: queryWarmup,
    warmupTime: 0,
    throws: true,
  });
  for (const shape of shapes) {
    bench.add(shape.name, async () => expectStatus(await query(shape.make()), 200, `queryUsers ${shape.name}`), { async: true });
  }
  await bench.run();
  return shapes.map((shape) => ({ name: shape.name, payload: shape.payload, latency: statistics(bench, shape.name) }));
}

/** Replaces the users with the query data set (users_baseline dropped first when present); returns the seconds taken. */
async function loadQueryUsers(db: Kysely<Database>, checkpoint: () => Promise<unknown>): Promise<number> {
  log(`  bulk-loading ${fmtInt(config.queryUsers)} users…`);
  const t0 = performance.now();
  await sql`DROP TABLE IF EXISTS users_baseline`.execute(db);
  await sql`TRUNCATE users CASCADE`.execute(db);
  await bulkLoadUsers(config.queryUsers).execute(db);
  await sql`VACUUM ANALYZE users`.execute(db);
  await checkpoint();
  const seconds = (performance.now() - t0) / 1000;
  log(`  loaded in ${seconds.toFixed(1)} s`);
  return seconds;
}

// ---------------------------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------------------------

interface BackendResult {
  name: 'PGlite' | 'PostgreSQL';
  /** Versions and where the data lives. */
  detail: string;
  /** How the upserts were run, for the report. */
  upsertMode: string;
  /** How the baseline talks to the database. */
  bareLabel: string;
  server: Throughput;
  baseline: Throughput;
  queries: QueryFigures[];
  bulkLoadSeconds: number;
  tasks: TaskFigures;
  /** Request body bytes per user. */
  avgBytes: number;
  serverStartSeconds: number[];
}

function pgliteVersion(): string {
  const file = path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json');
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/**
 * Opens an embedded database exactly as the server does (openDatabase), keeping hold of the PGlite instance it
 * creates so that the baseline can query it directly.
 */
async function openPglite(dataDir: string): Promise<{ handle: DatabaseHandle; pglite: PGlite }> {
  const original = PGlite.create;
  let instance: PGlite | undefined;
  (PGlite as { create: unknown }).create = async function (this: typeof PGlite, ...args: unknown[]) {
    instance = await (original as (...a: unknown[]) => Promise<PGlite>).apply(this, args);
    return instance;
  };
  let handle: DatabaseHandle;
  try {
    handle = await openDatabase({ dataDir });
  } finally {
    PGlite.create = original;
  }
  cleanups.push(() => handle.close());
  if (!instance) throw new Error('openDatabase did not create its PGlite instance through PGlite.create; update bench/run.ts');
  return { handle, pglite: instance };
}

const taskOptions = (client: BenchClient, workload: Workload, watchDrain: DrainWatcher) => ({
  client,
  userIds: workload.measuredIds,
  warmup: taskWarmup,
  runs: config.taskRuns,
  drain: config.taskDrain,
  pollMs: config.taskPollMs,
  concurrency: config.concurrency,
  watchDrain,
  log,
});

async function benchPglite(): Promise<BackendResult> {
  const workload = makeWorkload();

  // 1. The baseline, on a PGlite instance of its own in this process.
  const { baseline, detail } = await phase(async () => {
    const dir = tempDir('pglite-baseline');
    const { handle, pglite } = await openPglite(dir);
    const version = (await pglite.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]?.v;
    await migrate(handle.db);
    await sql.raw('CREATE TABLE users_baseline (LIKE users INCLUDING ALL)').execute(handle.db);
    log(`  baseline: upserting ${fmtInt(config.users)} users into its own PGlite instance…`);
    const [baseline] = (await measureUpserts([baselinePath((text, params) => pglite.query(text, params), workload)], workload.measured)) as [Throughput];
    const { rows } = await pglite.query<StoredUser>(
      `SELECT id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom FROM users_baseline`,
    );
    compareUsers('baseline', rows, workload);
    log(`  baseline ${fmtInt(baseline.usersPerSecond)} users/s`);
    return { baseline, detail: `PGlite ${pgliteVersion()} (PostgreSQL ${version}), in the server process, data dir on local disk` };
  });

  // 2. The server on a fresh data dir: upserts, then the tasks on the users it stored.
  const starts: number[] = [];
  const { server, tasks } = await phase(async () => {
    const running = await launchServer('PGlite', { DATA_DIR: tempDir('pglite-server') });
    starts.push(running.startSeconds);
    log(`  server: upserting ${fmtInt(config.users)} users…`);
    const [server] = (await measureUpserts([serverPath(running.client, workload)], workload.measured)) as [Throughput];
    log(`  server ${fmtInt(server.usersPerSecond)} users/s; reading them back…`);
    await checkUsersViaApi(running.client, workload);
    const tasks = await benchTasks(taskOptions(running.client, workload, apiDrainWatcher(running.client, config.drainPollMs, config.concurrency)));
    await running.stop();
    return { server, tasks };
  });

  // 3. The query data set, bulk-loaded before the server starts on it.
  const { queries, bulkLoadSeconds } = await phase(async () => {
    const dir = tempDir('pglite-query');
    const bulkLoadSeconds = await phase(async () => {
      const { handle, pglite } = await openPglite(dir);
      await migrate(handle.db);
      return loadQueryUsers(handle.db, () => pglite.exec('CHECKPOINT'));
    });
    const running = await launchServer('PGlite, query data set', { DATA_DIR: dir });
    starts.push(running.startSeconds);
    log('  querying…');
    const queries = await benchQueries(running.client);
    await running.stop();
    return { queries, bulkLoadSeconds };
  });

  return {
    name: 'PGlite',
    detail,
    upsertMode: `server and baseline in separate phases on fresh data dirs (PGlite is single-process), ${config.rounds} rounds each, no CHECKPOINTs`,
    bareLabel: 'PGlite.query (own instance, bench process)',
    server,
    baseline,
    queries,
    bulkLoadSeconds,
    tasks,
    avgBytes: workload.avgBytes,
    serverStartSeconds: starts,
  };
}

/** A throwaway bench_* database on the PostgreSQL server, dropped at the end; null when the server is unreachable. */
async function benchPostgres(): Promise<BackendResult | null> {
  const admin = new pg.Client({ connectionString: config.postgresUrl, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
  } catch (error) {
    console.log(`PostgreSQL at ${config.postgresUrl} is unreachable (${(error as Error).message}): skipping it, PGlite only.`);
    await admin.end().catch(() => {});
    return null;
  }
  const name = `bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  let version = '?';
  try {
    version = (await admin.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]?.v ?? '?';
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  cleanups.push(async () => {
    const client = new pg.Client({ connectionString: config.postgresUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const url = new URL(config.postgresUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ databaseUrl: url.toString(), poolSize: 2 });
  cleanups.push(() => handle.close());
  const pool = new pg.Pool({ connectionString: url.toString(), max: config.concurrency });
  pool.on('error', () => {});
  cleanups.push(() => pool.end());
  const bare = (text: string, params: unknown[] = []) => pool.query(text, params);
  const host = url.hostname === '127.0.0.1' || url.hostname === 'localhost' ? 'same machine' : url.hostname;
  const detail = `PostgreSQL ${version} (${host}), database ${name}`;
  log(`\nPostgreSQL: ${detail}`);

  await migrate(handle.db);
  await sql.raw('CREATE TABLE users_baseline (LIKE users INCLUDING ALL)').execute(handle.db);
  const running = await launchServer('PostgreSQL', { DATABASE_URL: url.toString() });
  const workload = makeWorkload();
  log(`  upserting ${fmtInt(config.users)} users, server and baseline alternating…`);
  const [server, baseline] = (await measureUpserts(
    [serverPath(running.client, workload), baselinePath(bare, workload)],
    workload.measured,
    () => bare('CHECKPOINT'),
  )) as [Throughput, Throughput];
  log(`  server ${fmtInt(server.usersPerSecond)} users/s, baseline ${fmtInt(baseline.usersPerSecond)} users/s`);

  const expected = config.users + warmupBatches * BATCH_SIZE;
  const counts = await sql<{ server: number; baseline: number }>`
    SELECT (SELECT count(*) FROM users)::int AS server, (SELECT count(*) FROM users_baseline)::int AS baseline`.execute(handle.db);
  const row = counts.rows[0];
  if (row?.server !== expected || row.baseline !== expected) {
    throw new Error(`row counts after the upserts: server ${row?.server}, baseline ${row?.baseline}, expected ${expected}`);
  }
  // …and the two paths stored the same rows.
  const differing = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM users u JOIN users_baseline b USING (id)
    WHERE (u.name, u.image, u.role, u.language, u.teams, u.teams_role, u.invisible, u.privacy_settings, u.custom)
      IS DISTINCT FROM (b.name, b.image, b.role, b.language, b.teams, b.teams_role, b.invisible, b.privacy_settings, b.custom)`.execute(handle.db);
  if (differing.rows[0]?.n !== 0) throw new Error(`${differing.rows[0]?.n} users differ between the server's table and the baseline's`);

  await bare('CHECKPOINT');
  const tasks = await benchTasks(taskOptions(running.client, workload, sqlDrainWatcher(bare)));

  const bulkLoadSeconds = await loadQueryUsers(handle.db, () => bare('CHECKPOINT'));
  log('  querying…');
  const queries = await benchQueries(running.client);
  await running.stop();

  return {
    name: 'PostgreSQL',
    detail,
    upsertMode: `server and baseline alternate over ${server.rounds.length} rounds, a CHECKPOINT before each`,
    bareLabel: `pg.Pool (max ${config.concurrency}, bench process)`,
    server,
    baseline,
    queries,
    bulkLoadSeconds,
    tasks,
    avgBytes: workload.avgBytes,
    serverStartSeconds: [running.startSeconds],
  };
}

/**
 * PostgreSQL: counts unfinished tasks with SQL every BENCH_DRAIN_POLL_MS (every task enqueued before the drain was
 * waited for, so none is unfinished but the drain's), then reads the drain's own timestamps.
 */
function sqlDrainWatcher(bare: (text: string, params?: unknown[]) => Promise<pg.QueryResult>): DrainWatcher {
  return async (taskIds) => {
    const start = performance.now();
    let first: number | undefined;
    let observedAt: number;
    for (;;) {
      const pollStart = performance.now();
      const { rows } = await bare(
        `SELECT count(*) FILTER (WHERE status <> 'completed')::int AS unfinished, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM tasks`,
      );
      const { unfinished, failed } = rows[0] as { unfinished: number; failed: number };
      if (failed > 0) throw new Error(`${failed} tasks failed`);
      first ??= taskIds.length - unfinished;
      if (unfinished === 0) {
        observedAt = performance.now();
        break;
      }
      if (performance.now() - start > 120_000) throw new Error(`${unfinished} tasks still unfinished after 120 s`);
      const wait = config.drainPollMs - (performance.now() - pollStart);
      if (wait > 0) await sleep(wait);
    }
    const { rows } = await bare(
      `SELECT count(*)::int AS n, extract(epoch FROM max(updated_at) - min(created_at))::float8 AS seconds
       FROM tasks WHERE id = ANY($1::uuid[]) AND status = 'completed'`,
      [taskIds],
    );
    const { n, seconds } = rows[0] as { n: number; seconds: number };
    if (n !== taskIds.length) throw new Error(`drain: ${n} of ${taskIds.length} tasks completed`);
    return {
      observedAt,
      serverSeconds: seconds,
      completedAtEnqueueEnd: first,
      how: `SQL count of unfinished tasks every ${config.drainPollMs} ms`,
    };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------------

const pair = (s: { p50: number; p99: number }) => `${fmtMs(s.p50)} / ${fmtMs(s.p99)}`;

function printBackend(result: BackendResult) {
  const { server, baseline, tasks } = result;
  console.log(`\n== ${result.detail}`);
  console.log(
    `Server process started in ${result.serverStartSeconds.map((s) => `${s.toFixed(1)} s`).join(', ')} ` +
      `(node --import tsx src/server.ts, LOG_LEVEL=info).`,
  );
  console.log(
    `Upsert: ${fmtInt(config.users)} fresh users (~${Math.round(result.avgBytes)} bytes of JSON each), ${BATCH_SIZE} per ` +
      `request/statement, ${config.concurrency} concurrent, after ${warmupBatches} warm-up batches; ${result.upsertMode}`,
  );
  console.log(
    textTable(
      ['path', 'users/s', 'time', 'request p50 ms', 'request p99 ms', 'per round'],
      [
        ['server: POST /api/v2/users (raw HTTP)', fmtInt(server.usersPerSecond), `${server.seconds.toFixed(2)} s`, fmtMs(server.latency.p50), fmtMs(server.latency.p99), server.rounds.map(fmtInt).join(' ')],
        [`baseline: INSERT … ON CONFLICT via ${result.bareLabel}`, fmtInt(baseline.usersPerSecond), `${baseline.seconds.toFixed(2)} s`, fmtMs(baseline.latency.p50), fmtMs(baseline.latency.p99), baseline.rounds.map(fmtInt).join(' ')],
        ['server / baseline', `${(server.usersPerSecond / baseline.usersPerSecond).toFixed(2)}×`, '', '', '', server.rounds.map((r, i) => `${(r / baseline.rounds[i]!).toFixed(2)}×`).join(' ')],
      ],
    ),
  );
  console.log(
    `Tasks: ${tasks.runs} sequential POST /api/v2/users/deactivate (one user each), each task polled with ` +
      `GET /api/v2/tasks/{id} every ${tasks.pollMs} ms until completed (${tasks.pollsPerRun.toFixed(1)} polls per run on average); ` +
      `server TASK_POLL_MS at its default (2 s), so only a NOTIFY wakes the worker this fast:`,
  );
  if (tasks.slowWake) console.log(`  WARNING: ${tasks.slowWake}`);
  const row = (label: string, s: Summary) => [label, fmtMs(s.p50), fmtMs(s.p99), fmtMs(s.mean), fmtMs(s.max)];
  console.log(
    textTable(
      ['what', 'p50 ms', 'p99 ms', 'mean ms', 'max ms'],
      [
        row('deactivate → completed, as the client sees it', tasks.roundTrip),
        row('  of which the POST (enqueue) round trip', tasks.enqueue),
        row('  server clock: enqueue tx → handler tx (created_at → updated_at)', tasks.server),
        row('baseline: GET /healthz round trip', tasks.healthz),
        row('baseline: GET /api/v2/tasks/{id} of a completed task', tasks.getTask),
      ],
    ),
  );
  const d = tasks.drain;
  console.log(
    `Drain: ${fmtInt(d.tasks)} DeactivateUsers tasks (one user each) enqueued over ${d.concurrency} connections in ` +
      `${d.enqueueSeconds.toFixed(2)} s (${fmtInt(d.tasks / d.enqueueSeconds)} enqueues/s` +
      (d.completedAtEnqueueEnd !== undefined ? `, ${fmtInt(d.completedAtEnqueueEnd)} already completed by then` : '') +
      `); all completed ${d.seconds.toFixed(2)} s after the first was sent: ${fmtInt(d.tasksPerSecond)} tasks/s ` +
      `(server clock, first created_at → last updated_at: ${d.serverSeconds.toFixed(2)} s). Completion seen by: ${d.how}.`,
  );
  console.log(
    `queryUsers over ${fmtInt(config.queryUsers)} users (bulk load + VACUUM ANALYZE ${result.bulkLoadSeconds.toFixed(1)} s), ` +
      `${fmtInt(config.queryRequests)} sequential requests per shape after ${queryWarmup} warm-up:`,
  );
  console.log(
    textTable(
      ['query', 'p50 ms', 'p99 ms', 'mean ms', 'max ms', 'payload'],
      result.queries.map((q) => [q.name, fmtMs(q.latency.p50), fmtMs(q.latency.p99), fmtMs(q.latency.mean), fmtMs(q.latency.max), q.payload]),
    ),
  );
}

function printMarkdown(results: BackendResult[]) {
  const cpus = os.cpus();
  console.log('\n## Markdown (for the README)\n');
  console.log(
    `Measured with \`npm run bench\` on ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}; ` +
      `the server runs as its own process (\`node --import tsx src/server.ts\`, LOG_LEVEL=info), with the ` +
      `load generator and the database on the same machine. Upserts: ${fmtInt(config.users)} fresh users ` +
      `(~${Math.round(results[0]!.avgBytes)} bytes of JSON each), ` +
      `${BATCH_SIZE} per request, ${config.concurrency} concurrent connections, raw HTTP with a server-side JWT; the baseline ` +
      `runs the same rows as a bare multi-row \`INSERT … ON CONFLICT (id) DO UPDATE\` (same batch size and concurrency) into ` +
      `a copy of the users table with the same indexes, from the benchmark process (on PostgreSQL alternating with the ` +
      `server in the same database; on PGlite, which is single-process, in a separate phase on its own instance). ` +
      `Queries: ${fmtInt(config.queryRequests)} sequential \`GET /api/v2/users\` per shape over ${fmtInt(config.queryUsers)} users, latency in ms.\n`,
  );
  console.log(
    markdownTable(
      ['Backend', 'Upsert via server (users/s)', 'Bare SQL (users/s)', 'Server / bare', 'id lookup p50 / p99', 'custom field p50 / p99', '`$autocomplete` p50 / p99'],
      results.map((r) => [
        r.detail.split(' (')[0]!,
        fmtInt(r.server.usersPerSecond),
        fmtInt(r.baseline.usersPerSecond),
        `${(r.server.usersPerSecond / r.baseline.usersPerSecond).toFixed(2)}×`,
        ...r.queries.map((q) => pair(q.latency)),
      ]),
    ),
  );
  const t = results[0]!.tasks;
  console.log(
    `\nTasks: ${t.runs} sequential \`POST /api/v2/users/deactivate\` (one user each), timed until \`GET /api/v2/tasks/{id}\`, ` +
      `polled every ${t.pollMs} ms, reports \`completed\` (the worker wakes on NOTIFY; its fallback poll is 2 s), next to the ` +
      `round trip of a bare \`GET /healthz\` and of \`GET /api/v2/tasks/{id}\` on a completed task; the drain rate is ` +
      `${fmtInt(t.drain.tasks)} such tasks enqueued over ${t.drain.concurrency} connections, from the first request until all ` +
      `are completed, drained by the one server process. Latency in ms.\n`,
  );
  console.log(
    markdownTable(
      ['Backend', 'Deactivate → completed p50 / p99', 'Enqueue (POST) p50 / p99', '`GET /healthz` p50 / p99', '`GET /tasks/{id}` p50 / p99', 'Drain (tasks/s)'],
      results.map((r) => [
        r.detail.split(' (')[0]!,
        pair(r.tasks.roundTrip),
        pair(r.tasks.enqueue),
        pair(r.tasks.healthz),
        pair(r.tasks.getTask),
        fmtInt(r.tasks.drain.tasksPerSecond),
      ]),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------

/** 1, 5 and 15 minute load averages. */
function loadAverage(): string {
  return os.loadavg().map((n) => n.toFixed(2)).join(' ');
}

async function main() {
  console.log(
    `Benchmark: ${fmtInt(config.users)} upserts, ${fmtInt(config.queryUsers)} users for queries, ${config.concurrency} connections, ` +
      `${config.taskRuns} + ${config.taskDrain} tasks; Node ${process.version}, ${os.cpus().length} cores, load average ${loadAverage()}`,
  );
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  cleanups.push(async () => fs.rmSync(workDir, { recursive: true, force: true }));
  const results: BackendResult[] = [];
  const runners: Record<string, () => Promise<BackendResult | null>> = {
    pglite: async () => {
      log('\nPGlite:');
      return benchPglite();
    },
    postgres: benchPostgres,
  };
  for (const key of config.backends) {
    const run = runners[key];
    if (!run) throw new Error(`BENCH_BACKENDS: unknown backend "${key}" (pglite, postgres)`);
    try {
      // Each backend's server, pools, databases and temp files are gone before the next, so they don't share the CPU.
      const result = await phase(run);
      if (!result) continue;
      results.push(result);
      printBackend(result);
    } catch (error) {
      // One backend failing still lets the other report.
      if (interrupted) return;
      console.error(`\n${key}: benchmark failed:`, error);
      process.exitCode = 1;
    }
  }
  if (results.length > 0 && !interrupted) printMarkdown(results);
}

const started = performance.now();
try {
  await main();
  // Other work on the machine skews every figure: the load average tells whether the run was alone.
  if (!interrupted) console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(0)} s (load average at the end ${loadAverage()}).`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await runCleanups();
}
