// The queryUsers section (PostgreSQL): users bulk-loaded with one INSERT … SELECT (secondary indexes dropped during
// the load and rebuilt after it), then sequential GET /api/v2/users per filter shape, each request followed by the
// bare SQL the filter compiles to (the server's own compiler, run through a plain pg connection), so that both are
// timed in the same conditions.
import pg from 'pg';
import { SESSION_SETTINGS } from '../src/db/database.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { buildQueryUsersSql, chooseAutocompletePlan } from '../src/users/store/query.js';
import type { QueryUsersPayload } from '../src/users/schemas.js';
import { TARGETS, type BenchConfig } from './config.js';
import type { PostgresBackend } from './backends.js';
import { expectStatus, type BenchClient } from './http.js';
import { startTransportFloor } from './floor.js';
import { log, onCleanup, tempDir } from './lifecycle.js';
import { random, summarize, type Summary } from './measure.js';
import { check, fmtInt, fmtMs, fmtSeconds, info, type Report } from './report.js';
import {
  bulkLoadUsersSql,
  COLORS,
  COMMON_PREFIX,
  FIRST_NAMES,
  LAST_NAMES,
  LATER_EVERY,
  LATER_LAST_NAME,
  LATER_PREFIX,
  queryUserId,
  RARE_EVERY,
  RARE_FIRST_NAME,
  RARE_PREFIX,
  TEAMS,
} from './workload.js';

export interface LoadFigures {
  users: number;
  insertSeconds: number;
  indexSeconds: number;
  tableBytes: number;
  indexBytes: number;
}

/** Replaces every user with the query data set (server stopped). */
export async function loadQueryUsers(config: BenchConfig, pgb: PostgresBackend): Promise<LoadFigures> {
  log(`  bulk-loading ${fmtInt(config.queryUsers)} users (one INSERT … SELECT, secondary indexes rebuilt after)…`);
  const client = await pgb.pool.connect();
  try {
    await client.query('TRUNCATE users, tasks, user_name_words CASCADE');
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
       WHERE x.indrelid = 'users'::regclass AND NOT x.indisprimary ORDER BY i.relname`,
    );
    for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
    const t0 = performance.now();
    await client.query(bulkLoadUsersSql(config.queryUsers));
    const t1 = performance.now();
    // A session setting of this connection only (the server's configuration is left as it is).
    await client.query(`SET maintenance_work_mem = '256MB'`);
    for (const index of indexes) await client.query(index.def);
    await client.query('RESET maintenance_work_mem');
    await client.query('VACUUM ANALYZE users');
    // The word list the load's trigger filled (migration 014): its visibility map lets the word-list plan read it
    // without its heap, as autovacuum would in production (it is off on the shared server).
    await client.query('VACUUM ANALYZE user_name_words');
    await client.query('CHECKPOINT');
    const t2 = performance.now();
    const { rows } = await client.query<{ table: string; indexes: string }>(
      `SELECT pg_table_size('users') AS table, pg_indexes_size('users') AS indexes`,
    );
    const figures = {
      users: config.queryUsers,
      insertSeconds: (t1 - t0) / 1000,
      indexSeconds: (t2 - t1) / 1000,
      tableBytes: Number(rows[0]!.table),
      indexBytes: Number(rows[0]!.indexes),
    };
    log(`  loaded in ${fmtSeconds(figures.insertSeconds)}, indexes and VACUUM ANALYZE in ${fmtSeconds(figures.indexSeconds)}`);
    return figures;
  } finally {
    client.release();
  }
}

type Answer = Array<{ id: string; name?: string; teams?: string[]; created_at?: unknown; custom?: { color?: unknown; n?: unknown } }>;

interface Shape {
  name: string;
  /** The payload, as shown in the report. */
  shown: string;
  make: () => QueryUsersPayload;
  check: (users: Answer, payload: any) => boolean;
}

function shapes(config: BenchConfig): Shape[] {
  const rand = random(42);
  const n = config.queryUsers;
  const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const anyId = () => queryUserId(1 + Math.floor(rand() * n));
  // Every first name but Bruno (whose users lend the rare one a few) is exactly a tenth of the users.
  const commonPrefixes = FIRST_NAMES.filter((f) => f !== 'Bruno').map((f) => f.slice(0, COMMON_PREFIX.length).toLowerCase());
  const words = (u: { name?: string }) => (u.name ?? '').toLowerCase().split(' ');
  const newestFirst = (users: Answer) => users.every((u, i) => i === 0 || u.id < users[i - 1]!.id);
  return [
    {
      name: 'id $eq',
      shown: '{"id": "<random id>"}',
      make: () => ({ filter_conditions: { id: anyId() } }),
      check: (users, p) => users.length === 1 && users[0]!.id === p.filter_conditions.id,
    },
    {
      name: 'id $in (100 ids)',
      shown: '{"id": {"$in": [<100 random ids>]}}, limit 100',
      make: () => ({ filter_conditions: { id: { $in: Array.from({ length: 100 }, anyId) } }, limit: 100 }),
      check: (users, p) => users.length === new Set(p.filter_conditions.id.$in).size,
    },
    {
      name: 'custom field $eq, one match',
      shown: '{"n": <a random user\'s number>} (a unique custom number)',
      make: () => ({ filter_conditions: { n: 1 + Math.floor(rand() * n) } }),
      check: (users, p) => users.length === 1 && users[0]!.id === queryUserId(p.filter_conditions.n) && users[0]!.custom?.n === p.filter_conditions.n,
    },
    {
      name: 'custom field $eq',
      shown: `{"color": "<one of ${COLORS.length}>"} (1/${COLORS.length} of the users)`,
      make: () => ({ filter_conditions: { color: pick(COLORS) } }),
      check: (users, p) => users.length === 30 && newestFirst(users) && users.every((u) => u.custom?.color === p.filter_conditions.color),
    },
    {
      name: 'custom field $eq AND teams $contains',
      // Colors and teams are both assigned by i % 8, so the k-th color goes with the k-th team (1/8 of the users).
      shown: `{"color": "<one of ${COLORS.length}>", "teams": {"$contains": "<its team>"}} (1/${COLORS.length} of the users)`,
      make: () => {
        const k = Math.floor(rand() * COLORS.length);
        return { filter_conditions: { color: COLORS[k]!, teams: { $contains: TEAMS[k % TEAMS.length]! } } };
      },
      check: (users, p) =>
        users.length === 30 &&
        newestFirst(users) &&
        users.every((u) => u.custom?.color === p.filter_conditions.color && u.teams?.includes(p.filter_conditions.teams.$contains)),
    },
    {
      name: '$autocomplete, common prefix',
      shown: `{"name": {"$autocomplete": "<${COMMON_PREFIX}|…>"}} (10% of the users)`,
      make: () => ({ filter_conditions: { name: { $autocomplete: pick(commonPrefixes) } } }),
      check: (users, p) => users.length === 30 && newestFirst(users) && users.every((u) => words(u).some((w) => w.startsWith(p.filter_conditions.name.$autocomplete))),
    },
    {
      name: '$autocomplete, rare prefix',
      shown: `{"name": {"$autocomplete": "${RARE_PREFIX}"}} (${fmtInt(Math.floor(n / RARE_EVERY))} users, ${((100 / RARE_EVERY)).toFixed(3)}%)`,
      make: () => ({ filter_conditions: { name: { $autocomplete: RARE_PREFIX } } }),
      check: (users) => users.length === Math.min(30, Math.floor(n / RARE_EVERY)) && newestFirst(users) && users.every((u) => u.name?.startsWith(RARE_FIRST_NAME)),
    },
    {
      name: '$autocomplete, later word',
      shown: `{"name": {"$autocomplete": "${LATER_PREFIX}"}} (the last name of ${fmtInt(Math.floor(n / LATER_EVERY))} users)`,
      make: () => ({ filter_conditions: { name: { $autocomplete: LATER_PREFIX } } }),
      check: (users) => users.length === 30 && newestFirst(users) && users.every((u) => u.name?.endsWith(` ${LATER_LAST_NAME}`)),
    },
    {
      name: 'teams $contains',
      shown: `{"teams": {"$contains": "<one of ${TEAMS.length}>"}}`,
      make: () => ({ filter_conditions: { teams: { $contains: pick(TEAMS) } } }),
      check: (users, p) => users.length === 30 && newestFirst(users) && users.every((u) => u.teams?.includes(p.filter_conditions.teams.$contains)),
    },
    {
      name: 'name $eq',
      shown: `{"name": "<first> <last>"} (1% of the users)`,
      make: () => ({ filter_conditions: { name: `${pick(FIRST_NAMES.filter((f) => f !== 'Bruno'))} ${pick(LAST_NAMES)}` } }),
      check: (users, p) => users.length === 30 && newestFirst(users) && users.every((u) => u.name === p.filter_conditions.name),
    },
    {
      name: 'created_at desc',
      shown: '{} sorted by [{"field": "created_at", "direction": -1}]',
      make: () => ({ filter_conditions: {}, sort: [{ field: 'created_at', direction: -1 }] }),
      check: (users) => users.length === 30 && users[0]!.id === queryUserId(n),
    },
    {
      name: 'default sort, offset 900',
      shown: '{} sorted by created_at desc, offset 900, limit 30',
      make: () => ({ filter_conditions: {}, offset: 900 }),
      check: (users) => users.length === 30 && users[0]!.id === queryUserId(n - 900),
    },
  ];
}

export interface ShapeFigures {
  name: string;
  shown: string;
  /** Medians over the rounds of each round's p50 and p99 (n: samples per round, summed). */
  api: Summary;
  bare: Summary;
  /** Each round's API p50 and p99, in round order. */
  apiRounds: Summary[];
  /** The request's time outside its SQL: each request's API time less its bare SQL's (HTTP, auth, JSON, rate-limit
   * counting, decoding and representing the rows), as `api`. */
  overhead: Summary;
  /** The same for the transport floor (bench/floor.ts): its time for the same statement less the bare SQL's. */
  floorOverhead: Summary;
  plan: string;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The median of each quantile over the rounds' summaries. */
function medianOfRounds(rounds: Summary[]): Summary {
  return {
    n: rounds.reduce((sum, r) => sum + r.n, 0),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    mean: median(rounds.map((r) => r.mean)),
    max: Math.max(...rounds.map((r) => r.max)),
  };
}

/** Scan nodes of a JSON plan, outermost first: "Index Scan Backward (users_created_at_id_idx)". */
function planSummary(plan: any): string {
  const out: string[] = [];
  const walk = (node: any) => {
    if (node['Parent Relationship'] === 'SubPlan') return; // the per-row blocked ids / online lookups
    const type: string = node['Node Type'];
    const direction = node['Scan Direction'] === 'Backward' ? ' Backward' : '';
    if (/Scan/.test(type) || /Sort|Limit|BitmapAnd|BitmapOr/.test(type)) out.push(`${type}${direction}${node['Index Name'] ? ` ${node['Index Name']}` : ''}`);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan.Plan);
  return out.join(' → ');
}

export async function benchQueries(config: BenchConfig, pgb: PostgresBackend, client: BenchClient): Promise<ShapeFigures[]> {
  // The bare path: one plain connection that hands every value back as text (nothing decoded).
  // The server's session settings (src/db/database.ts).
  const bareClient = new pg.Client({ connectionString: pgb.url, options: SESSION_SETTINGS, types: { getTypeParser: () => (value: string) => value } as never });
  await bareClient.connect();
  onCleanup(() => bareClient.end());
  // The statement the server runs, in the plan it would choose (the word statistics are read once and cached).
  const compile = async (payload: QueryUsersPayload) =>
    buildQueryUsersSql(payload, {}, DEFAULT_LIMITS, await chooseAutocompletePlan(pgb.handle.db, payload, {}, DEFAULT_LIMITS)).compile(pgb.handle.db);
  const api = (payload: QueryUsersPayload) => client.request('GET', '/api/v2/users', { payload: JSON.stringify(payload) });
  const all = shapes(config);
  const plans = new Map<string, string>();
  const answers = new Map<string, Buffer>();
  for (const shape of all) {
    // Correctness first (outside the timed window): the API answers what it should, and so does the bare SQL.
    const payload = shape.make();
    const answer = expectStatus(await api(payload), 200, `queryUsers ${shape.name}`).body;
    answers.set(shape.name, answer);
    const users = (JSON.parse(answer.toString('utf8')) as { users: Answer }).users;
    if (!shape.check(users, payload)) throw new Error(`queryUsers ${shape.name}: unexpected answer to ${JSON.stringify(payload)}: ${users.length} users`);
    const compiled = await compile(payload);
    const bareRows = await bareClient.query(compiled.sql, compiled.parameters as unknown[]);
    if (bareRows.rows.length !== users.length) throw new Error(`${shape.name}: bare SQL returned ${bareRows.rows.length} rows, the API ${users.length}`);
    const explain = await bareClient.query(`EXPLAIN (FORMAT JSON) ${compiled.sql}`, compiled.parameters as unknown[]);
    const planJson = (explain.rows[0] as Record<string, unknown>)['QUERY PLAN'];
    plans.set(shape.name, planSummary((typeof planJson === 'string' ? JSON.parse(planJson) : planJson)[0]));
  }

  // The transport floor: a Node process that receives the statement over HTTP, runs it through pg and sends the real
  // server's answer to that shape (canned): what any server spends outside the SQL for this exchange.
  const floor = await startTransportFloor(pgb.url, Buffer.from('{}'), tempDir('query-floor'), 1, answers);
  onCleanup(() => floor.stop());
  const viaFloor = (shape: Shape, statement: { sql: string; parameters: readonly unknown[] }) =>
    floor.client.request('POST', '/query', {}, Buffer.from(JSON.stringify({ shape: shape.name, sql: statement.sql, parameters: statement.parameters })));

  // One request through the API, the same statement through the floor, then its bare SQL; all three timed.
  const pair = async (shape: Shape) => {
    const p = shape.make();
    const statement = await compile(p);
    let t0 = performance.now();
    expectStatus(await api(p), 200, `queryUsers ${shape.name}`);
    const apiMs = performance.now() - t0;
    t0 = performance.now();
    expectStatus(await viaFloor(shape, statement), 200, `the transport floor, ${shape.name}`);
    const floorMs = performance.now() - t0;
    t0 = performance.now();
    await bareClient.query(statement.sql, statement.parameters as unknown[]);
    return { apiMs, floorMs, bareMs: performance.now() - t0 };
  };
  const warmup = Math.max(10, Math.round(config.queryRequests / 10));
  for (const shape of all) for (let i = 0; i < warmup; i++) await pair(shape);

  // Rounds: every shape in each, the order reversed every other round, so that no shape always runs first or last.
  const apiRounds = new Map<string, Summary[]>(all.map((s) => [s.name, []]));
  const bareRounds = new Map<string, Summary[]>(all.map((s) => [s.name, []]));
  const overheadRounds = new Map<string, Summary[]>(all.map((s) => [s.name, []]));
  const floorOverheadRounds = new Map<string, Summary[]>(all.map((s) => [s.name, []]));
  for (let round = 0; round < config.queryRounds; round++) {
    const order = round % 2 === 0 ? all : [...all].reverse();
    for (const shape of order) {
      const apiSamples: number[] = [];
      const bareSamples: number[] = [];
      const overheadSamples: number[] = [];
      const floorOverheadSamples: number[] = [];
      const started = performance.now();
      const keep = Math.min(100, config.queryRequests);
      for (let i = 0; i < config.queryRequests; i++) {
        const { apiMs, floorMs, bareMs } = await pair(shape);
        apiSamples.push(apiMs);
        bareSamples.push(bareMs);
        overheadSamples.push(apiMs - bareMs);
        floorOverheadSamples.push(floorMs - bareMs);
        if (apiSamples.length >= keep && performance.now() - started > config.querySeconds * 1000) break;
      }
      apiRounds.get(shape.name)!.push(summarize(apiSamples));
      bareRounds.get(shape.name)!.push(summarize(bareSamples));
      overheadRounds.get(shape.name)!.push(summarize(overheadSamples));
      floorOverheadRounds.get(shape.name)!.push(summarize(floorOverheadSamples));
    }
    log(`  round ${round + 1} of ${config.queryRounds} done`);
  }
  const results: ShapeFigures[] = all.map((shape) => ({
    name: shape.name,
    shown: shape.shown,
    api: medianOfRounds(apiRounds.get(shape.name)!),
    bare: medianOfRounds(bareRounds.get(shape.name)!),
    apiRounds: apiRounds.get(shape.name)!,
    overhead: medianOfRounds(overheadRounds.get(shape.name)!),
    floorOverhead: medianOfRounds(floorOverheadRounds.get(shape.name)!),
    plan: plans.get(shape.name)!,
  }));
  for (const figures of results) {
    const p50s = figures.apiRounds.map((r) => r.p50);
    log(
      `  ${figures.name}: API p50 ${fmtMs(figures.api.p50)} (rounds ${fmtMs(Math.min(...p50s))}–${fmtMs(Math.max(...p50s))}) / p99 ${fmtMs(figures.api.p99)} ms, ` +
        `bare SQL ${fmtMs(figures.bare.p50)} / ${fmtMs(figures.bare.p99)} ms (${figures.api.n} each), ` +
        `outside the SQL ${fmtMs(figures.overhead.p50)} ms (transport floor ${fmtMs(figures.floorOverhead.p50)} ms)`,
    );
  }
  return results;
}

export function reportQueries(report: Report, shapes: ShapeFigures[], load: LoadFigures, rounds: number) {
  const section = report.section(
    `queryUsers at ${fmtInt(load.users)} users, PostgreSQL`,
    `Users bulk-loaded with one INSERT … SELECT (${fmtSeconds(load.insertSeconds)}; secondary indexes rebuilt and VACUUM ANALYZE ` +
      `${fmtSeconds(load.indexSeconds)}; table ${Math.round(load.tableBytes / 2 ** 20)} MB, indexes ${Math.round(load.indexBytes / 2 ** 20)} MB); ` +
      `names from 10 first × 10 last names. Sequential GET /api/v2/users, each followed by the same statement through the transport ` +
      `floor (bench/transport-floor-server.mjs: node:http and pg, sending the server's answer to that shape, canned) and by the bare SQL its filter compiles to ` +
      `(buildQueryUsersSql, run through one plain pg connection, values left undecoded), every shape in each of ` +
      `${rounds} rounds (the order reversed every other round). Latency in ms: the median over the rounds of each round's p50 and p99.`,
  );
  section.tables.push({
    header: ['shape', 'API p50', 'API p50 of the rounds', 'API p99', 'bare SQL p50', 'bare SQL p99', 'outside the SQL p50', 'floor: outside the SQL p50', 'n', 'plan of the bare SQL (scans, outermost first)'],
    rows: shapes.map((s) => [
      s.name,
      fmtMs(s.api.p50),
      `${fmtMs(Math.min(...s.apiRounds.map((r) => r.p50)))}–${fmtMs(Math.max(...s.apiRounds.map((r) => r.p50)))}`,
      fmtMs(s.api.p99),
      fmtMs(s.bare.p50),
      fmtMs(s.bare.p99),
      fmtMs(s.overhead.p50),
      fmtMs(s.floorOverhead.p50),
      fmtInt(s.api.n),
      s.plan,
    ]),
  });
  for (const s of shapes) {
    section.checks.push(
      check(`${s.name}: API p50 (ms)`, s.api.p50, fmtMs(s.api.p50), '≤', TARGETS.queryP50Ms, fmtMs, `bare SQL ${fmtMs(s.bare.p50)}`),
      check(`${s.name}: API p99 (ms)`, s.api.p99, fmtMs(s.api.p99), '≤', TARGETS.queryP99Ms, fmtMs, `bare SQL ${fmtMs(s.bare.p99)}`),
      check(`${s.name}: time outside the SQL, p50 (ms)`, s.overhead.p50, fmtMs(s.overhead.p50), '≤', TARGETS.requestOverheadP50Ms, fmtMs, 'API time less its bare SQL, per request'),
    );
  }
  const floors = shapes.map((s) => s.floorOverhead.p50);
  section.checks.push(
    info(
      'transport floor: time outside the SQL, p50 (ms), over the shapes',
      `${fmtMs(Math.min(...floors))}–${fmtMs(Math.max(...floors))}`,
      'node:http and pg alone, the same statements, the answers canned: what any Node server pays for the exchange',
    ),
  );
  section.tables.push({ header: ['shape', 'payload'], rows: shapes.map((s) => [s.name, s.shown]) });
  return section;
}
