// `npm run bench`: throughput of POST /api/v2/users against a bare-SQL baseline in the same database, and
// queryUsers latency, for both backends (embedded PGlite, then PostgreSQL when reachable). Not a test: it prints
// figures, ending with a Markdown table for the README.
//
// Environment (all optional):
//   BENCH_USERS=20000           users upserted (fresh ids), in requests of 100
//   BENCH_QUERY_USERS=100000    users bulk-loaded for the queryUsers latencies
//   BENCH_QUERY_REQUESTS=2000   sequential requests per query shape (after a warm-up of a tenth as many)
//   BENCH_CONCURRENCY=8         concurrent connections for the upserts (and pg pool size of the baseline)
//   BENCH_ROUNDS=4              the upserts alternate server and baseline over this many rounds
//   BENCH_BACKENDS=pglite,postgres
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432   (a throwaway bench_* database is created and dropped)
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import pg from 'pg';
import { Bench, type Statistics } from 'tinybench';
import { buildApp } from '../src/app.js';
import { credentialsOf } from '../src/credentials.js';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { baselineParams, baselineSql, bulkLoadUsers, COLORS, FIRST_NAMES, makeBatches, queryUserId, upsertBody } from './data.js';
import { BenchClient, expectStatus } from './http.js';
import { fmtInt, fmtMs, markdownTable, textTable } from './report.js';

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
  backends: (process.env.BENCH_BACKENDS ?? 'pglite,postgres').split(',').map((s) => s.trim().toLowerCase()),
  postgresUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432',
};
const warmupBatches = 2 * config.concurrency;
const queryWarmup = Math.max(20, Math.round(config.queryRequests / 10));

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

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: cleaning up…`);
    void runCleanups().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------------------------

interface Backend {
  name: 'PGlite' | 'PostgreSQL';
  /** Shown in the report: versions and where the data lives. */
  detail: string;
  handle: DatabaseHandle;
  /** Runs one statement with the bare driver, bypassing Kysely and the server. */
  bare(text: string, params: unknown[]): Promise<unknown>;
  /** How the baseline talks to the database, for the report. */
  bareLabel: string;
}

function pgliteVersion(): string {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../node_modules/@electric-sql/pglite/package.json');
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/**
 * Opens the embedded database exactly as the server does (openDatabase), keeping hold of the PGlite instance it
 * creates so that the baseline can query it directly.
 */
async function openPgliteBackend(): Promise<Backend> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pglite-'));
  cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
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
  const pglite = instance;
  if (!pglite) throw new Error('openDatabase did not create its PGlite instance through PGlite.create; update bench/run.ts');
  const { rows } = await pglite.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
  return {
    name: 'PGlite',
    detail: `PGlite ${pgliteVersion()} (PostgreSQL ${rows[0]?.v}), in-process, data dir on local disk`,
    handle,
    bare: (text, params) => pglite.query(text, params),
    bareLabel: 'PGlite.query (same instance)',
  };
}

/** A throwaway bench_* database on the PostgreSQL server, dropped at the end; null when the server is unreachable. */
async function openPostgresBackend(): Promise<Backend | null> {
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
  const handle = await openDatabase({ databaseUrl: url.toString() });
  cleanups.push(() => handle.close());
  const pool = new pg.Pool({ connectionString: url.toString(), max: config.concurrency });
  pool.on('error', () => {});
  cleanups.push(() => pool.end());
  const host = url.hostname === '127.0.0.1' || url.hostname === 'localhost' ? 'same machine' : url.hostname;
  return {
    name: 'PostgreSQL',
    detail: `PostgreSQL ${version} (${host}), database ${name}`,
    handle,
    bare: (text, params) => pool.query(text, params),
    bareLabel: `pg.Pool (max ${config.concurrency})`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------------------------

interface Throughput {
  usersPerSecond: number;
  seconds: number;
  /** users/s of each round, in order. */
  rounds: number[];
  /** Per-request latency under load (ms), over all rounds. */
  latency: { p50: number; p99: number };
}

function statistics(bench: Bench, name: string): Statistics {
  const result = bench.getTask(name)?.result;
  if (!result) throw new Error(`${name}: no result`);
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed') throw new Error(`${name}: ${result.state}`);
  return result.latency;
}

/** Linear interpolation between order statistics, as tinybench does. */
function quantile(sorted: number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

/** Runs the calls with `config.concurrency` in flight; returns the wall time and each call's latency (ms). */
async function runConcurrently(name: string, calls: Array<() => Promise<unknown>>): Promise<{ seconds: number; samples: number[] }> {
  let next = 0;
  let start = 0;
  let end = 0;
  const bench = new Bench({
    concurrency: 'task',
    threshold: config.concurrency,
    iterations: calls.length,
    time: 0,
    warmup: false,
    retainSamples: true,
    throws: true,
  });
  bench.add(name, () => calls[next++]!(), {
    async: true,
    beforeAll: () => void (start = performance.now()),
    afterAll: () => void (end = performance.now()),
  });
  await bench.run();
  if (next !== calls.length) throw new Error(`${name}: ran ${next} calls, expected ${calls.length}`);
  return { seconds: (end - start) / 1000, samples: [...(statistics(bench, name).samples ?? [])] };
}

interface UpsertPath {
  name: string;
  /** One call per batch: warm-up batches first, then the measured ones. */
  calls: Array<() => Promise<unknown>>;
}

/**
 * Measures the paths in alternating rounds (A B, B A, A B, …), each preceded by a CHECKPOINT, so that what one path
 * leaves behind (dirty buffers, GIN pending lists, table growth) weighs on both alike; short single runs on a small
 * machine otherwise swing by ±50%. Each path first runs its warm-up batches, unmeasured.
 */
async function measureUpserts(backend: Backend, paths: UpsertPath[], warmup: number, batchUsers: number[]): Promise<Throughput[]> {
  for (const path of paths) await runConcurrently(`${path.name} warm-up`, path.calls.slice(0, warmup));
  const measured = batchUsers.length;
  const perRound = Math.ceil(measured / config.rounds);
  const totals = paths.map(() => ({ seconds: 0, rounds: [] as number[], samples: [] as number[] }));
  for (let round = 0; round * perRound < measured; round++) {
    const from = round * perRound;
    const to = Math.min(measured, from + perRound);
    const users = batchUsers.slice(from, to).reduce((a, b) => a + b, 0);
    const order = round % 2 === 0 ? paths.map((_, i) => i) : paths.map((_, i) => paths.length - 1 - i);
    for (const i of order) {
      await checkpoint(backend);
      const { seconds, samples } = await runConcurrently(paths[i]!.name, paths[i]!.calls.slice(warmup + from, warmup + to));
      totals[i]!.seconds += seconds;
      totals[i]!.rounds.push(users / seconds);
      totals[i]!.samples.push(...samples);
    }
  }
  const users = batchUsers.reduce((a, b) => a + b, 0);
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

/** Seeded PRNG (mulberry32), so that runs pick the same ids and prefixes. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface BackendResult {
  backend: Backend;
  server: Throughput;
  baseline: Throughput;
  queries: Array<{ name: string; payload: string; latency: Statistics }>;
  bulkLoadSeconds: number;
  /** Request body bytes per user. */
  avgBytes: number;
}

async function checkpoint(backend: Backend) {
  await backend.bare('CHECKPOINT', []);
}

async function benchBackend(backend: Backend): Promise<BackendResult> {
  const { db } = backend.handle;
  const t0 = performance.now();
  await migrate(db);
  await sql.raw('CREATE TABLE users_baseline (LIKE users INCLUDING ALL)').execute(db);

  const app = await buildApp({
    db,
    credentials: credentialsOf(API_KEY, API_SECRET),
    rateLimit: { multiplier: 1e6, overrides: {} },
    logger: false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  const client = await BenchClient.create(`http://127.0.0.1:${address.port}`, API_KEY, API_SECRET, config.concurrency);
  cleanups.push(async () => client.close());
  log(`  set up in ${((performance.now() - t0) / 1000).toFixed(1)} s; upserting ${fmtInt(config.users)} users…`);

  // --- upserts: the same rows through the server and through the bare driver ------------------------------------
  const batches = [...makeBatches('w', warmupBatches * BATCH_SIZE, BATCH_SIZE), ...makeBatches('u', config.users, BATCH_SIZE)];
  const bodies = batches.map(upsertBody);
  const avgBytes = bodies.slice(warmupBatches).reduce((sum, body) => sum + body.length, 0) / config.users;

  const statements = new Map<number, string>();
  const statementFor = (rows: number) => {
    if (!statements.has(rows)) statements.set(rows, baselineSql('users_baseline', rows));
    return statements.get(rows)!;
  };
  const params = batches.map(baselineParams);
  const [server, baseline] = (await measureUpserts(
    backend,
    [
      {
        name: 'server',
        calls: bodies.map((body) => async () => expectStatus(await client.request('POST', '/api/v2/users', {}, body), 201, 'POST /api/v2/users')),
      },
      { name: 'baseline', calls: batches.map((batch, i) => () => backend.bare(statementFor(batch.length), params[i]!)) },
    ],
    warmupBatches,
    batches.slice(warmupBatches).map((batch) => batch.length),
  )) as [Throughput, Throughput];
  log(`  server ${fmtInt(server.usersPerSecond)} users/s, baseline ${fmtInt(baseline.usersPerSecond)} users/s`);

  const expected = config.users + warmupBatches * BATCH_SIZE;
  const counts = await sql<{ server: number; baseline: number }>`
    SELECT (SELECT count(*) FROM users)::int AS server, (SELECT count(*) FROM users_baseline)::int AS baseline`.execute(db);
  const row = counts.rows[0];
  if (row?.server !== expected || row.baseline !== expected) {
    throw new Error(`row counts after the upserts: server ${row?.server}, baseline ${row?.baseline}, expected ${expected}`);
  }
  // …and the two paths stored the same rows.
  const differing = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM users u JOIN users_baseline b USING (id)
    WHERE (u.name, u.image, u.role, u.language, u.teams, u.teams_role, u.invisible, u.privacy_settings, u.custom)
      IS DISTINCT FROM (b.name, b.image, b.role, b.language, b.teams, b.teams_role, b.invisible, b.privacy_settings, b.custom)`.execute(db);
  if (differing.rows[0]?.n !== 0) throw new Error(`${differing.rows[0]?.n} users differ between the server's table and the baseline's`);

  // --- queryUsers over a bulk-loaded data set ---------------------------------------------------------------------
  log(`  bulk-loading ${fmtInt(config.queryUsers)} users…`);
  const t1 = performance.now();
  await sql`DROP TABLE users_baseline`.execute(db);
  await sql`TRUNCATE users CASCADE`.execute(db);
  await bulkLoadUsers(config.queryUsers).execute(db);
  await sql`VACUUM ANALYZE users`.execute(db);
  await checkpoint(backend);
  const bulkLoadSeconds = (performance.now() - t1) / 1000;
  log(`  loaded in ${bulkLoadSeconds.toFixed(1)} s; querying…`);

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
  const queries = shapes.map((shape) => ({ name: shape.name, payload: shape.payload, latency: statistics(bench, shape.name) }));

  return { backend, server, baseline, queries, bulkLoadSeconds, avgBytes };
}

function log(line: string) {
  console.log(line);
}

// ---------------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------------

function printBackend(result: BackendResult) {
  const { backend, server, baseline } = result;
  console.log(`\n== ${backend.detail}`);
  console.log(
    `Upsert: ${fmtInt(config.users)} fresh users (~${Math.round(result.avgBytes)} bytes of JSON each), ${BATCH_SIZE} per ` +
      `request/statement, ${config.concurrency} concurrent, after ${warmupBatches} warm-up batches; server and baseline ` +
      `alternate over ${server.rounds.length} rounds`,
  );
  console.log(
    textTable(
      ['path', 'users/s', 'time', 'request p50 ms', 'request p99 ms', 'per round'],
      [
        ['server: POST /api/v2/users (raw HTTP)', fmtInt(server.usersPerSecond), `${server.seconds.toFixed(2)} s`, fmtMs(server.latency.p50), fmtMs(server.latency.p99), server.rounds.map(fmtInt).join(' ')],
        [`baseline: INSERT … ON CONFLICT via ${backend.bareLabel}`, fmtInt(baseline.usersPerSecond), `${baseline.seconds.toFixed(2)} s`, fmtMs(baseline.latency.p50), fmtMs(baseline.latency.p99), baseline.rounds.map(fmtInt).join(' ')],
        ['server / baseline', `${(server.usersPerSecond / baseline.usersPerSecond).toFixed(2)}×`, '', '', '', server.rounds.map((r, i) => `${(r / baseline.rounds[i]!).toFixed(2)}×`).join(' ')],
      ],
    ),
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
      `load generator, server and database on the same machine. Upserts: ${fmtInt(config.users)} fresh users ` +
      `(~${Math.round(results[0]!.avgBytes)} bytes of JSON each), ` +
      `${BATCH_SIZE} per request, ${config.concurrency} concurrent connections, raw HTTP with a server-side JWT; the baseline ` +
      `runs the same rows as a bare multi-row \`INSERT … ON CONFLICT (id) DO UPDATE\` (same batch size and concurrency) into ` +
      `a copy of the users table with the same indexes. Queries: ${fmtInt(config.queryRequests)} sequential ` +
      `\`GET /api/v2/users\` per shape over ${fmtInt(config.queryUsers)} users, latency in ms.\n`,
  );
  const pair = (s: Statistics) => `${fmtMs(s.p50)} / ${fmtMs(s.p99)}`;
  console.log(
    markdownTable(
      ['Backend', 'Upsert via server (users/s)', 'Bare SQL (users/s)', 'Server / bare', 'id lookup p50 / p99', 'custom field p50 / p99', '`$autocomplete` p50 / p99'],
      results.map((r) => [
        r.backend.detail.split(' (')[0]!,
        fmtInt(r.server.usersPerSecond),
        fmtInt(r.baseline.usersPerSecond),
        `${(r.server.usersPerSecond / r.baseline.usersPerSecond).toFixed(2)}×`,
        ...r.queries.map((q) => pair(q.latency)),
      ]),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  console.log(
    `Benchmark: ${fmtInt(config.users)} upserts, ${fmtInt(config.queryUsers)} users for queries, ${config.concurrency} connections; ` +
      `Node ${process.version}, ${os.cpus().length} cores`,
  );
  const results: BackendResult[] = [];
  const openers: Record<string, () => Promise<Backend | null>> = { pglite: openPgliteBackend, postgres: openPostgresBackend };
  for (const key of config.backends) {
    const open = openers[key];
    if (!open) throw new Error(`BENCH_BACKENDS: unknown backend "${key}" (pglite, postgres)`);
    const mark = cleanups.length;
    try {
      const backend = await open();
      if (!backend) continue;
      console.log(`\n${backend.name}: ${backend.detail}`);
      const result = await benchBackend(backend);
      results.push(result);
      printBackend(result);
    } catch (error) {
      // One backend failing still lets the other report.
      if (interrupted) return;
      console.error(`\n${key}: benchmark failed:`, error);
      process.exitCode = 1;
    } finally {
      // Close this backend (server, pools, database, temp files) before the next one, so they don't share the CPU.
      await runCleanups(mark);
    }
  }
  if (results.length > 0 && !interrupted) printMarkdown(results);
}

const started = performance.now();
try {
  await main();
  if (!interrupted) console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(0)} s.`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await runCleanups();
}
