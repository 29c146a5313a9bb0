// The upsert section: POST /api/v2/users (100 users per request, `concurrency` keep-alive connections) next to two
// baselines that run the same users as a plain multi-row INSERT … ON CONFLICT (id) DO UPDATE through bare pg: into
// the minimal table, and into the server's own users table (all its indexes). Two passes each: the users are
// new, then the same users are upserted again (update-heavy). On PostgreSQL the transport floor (floor.ts) takes the
// same requests in the same rounds, for the server's CPU per request beside what any Node process would spend.
//
// PostgreSQL: rounds; in each round every path (order alternating between rounds) empties its table, then writes the
// whole workload twice, with a CHECKPOINT before each pass, so that the three see the same conditions; ratios are per
// round, reported as the median and the spread. PGlite is single-process and the server holds its data dir, so there
// the server and the baselines (on an instance of their own in this process) run in separate phases, the workload
// cut into slices.
import { BATCH_SIZE, TARGETS, type BenchConfig } from './config.js';
import type { Bare, PostgresBackend } from './backends.js';
import { expectStatus, type BenchClient } from './http.js';
import { startTransportFloor, type TransportFloor } from './floor.js';
import { log, onCleanup, tempDir } from './lifecycle.js';
import { cpuSpentMs, median, postgresPids, processCpuMs, quantile, runConcurrently, withSpread } from './measure.js';
import { check, fmtInt, fmtMs, fmtRatio, info, type Report } from './report.js';
import {
  contentDigestSql,
  makeBatches,
  MINIMAL_TABLE,
  MINIMAL_TABLE_DDL,
  plainUpsertParams,
  plainUpsertSql,
  upsertBody,
  type WorkloadUser,
} from './workload.js';

export interface Workload {
  batches: WorkloadUser[][];
  bodies: Buffer[];
  params: unknown[][];
  warmupBatches: WorkloadUser[][];
  warmupBodies: Buffer[];
  warmupParams: unknown[][];
  users: number;
  avgBodyBytes: number;
}

export function makeWorkload(config: BenchConfig): Workload {
  const batches = makeBatches('u', config.users);
  const warmupBatches = makeBatches('w', config.warmupBatches * BATCH_SIZE);
  const bodies = batches.map(upsertBody);
  return {
    batches,
    bodies,
    params: batches.map(plainUpsertParams),
    warmupBatches,
    warmupBodies: warmupBatches.map(upsertBody),
    warmupParams: warmupBatches.map(plainUpsertParams),
    users: config.users,
    avgBodyBytes: bodies.reduce((sum, b) => sum + b.length, 0) / config.users,
  };
}

type PathKey = 'server' | 'floor' | 'own' | 'minimal';

interface UpsertPath {
  key: PathKey;
  label: string;
  table: string;
  /** The process whose CPU time is measured (the server, the transport floor). */
  pid?: number;
  /** Sends batch `i` of the workload (or of the warm-up). */
  send(i: number, warmup: boolean): Promise<unknown>;
}

function serverPath(client: BenchClient, workload: Workload, pid: number): UpsertPath {
  return {
    key: 'server',
    pid,
    label: 'server: POST /api/v2/users (raw HTTP, keep-alive)',
    table: 'users',
    send: async (i, warmup) =>
      expectStatus(await client.request('POST', '/api/v2/users', {}, (warmup ? workload.warmupBodies : workload.bodies)[i]!), 201, 'POST /api/v2/users'),
  };
}

/** The transport floor (floor.ts): the same requests to a bare node:http + pg process; its CPU is the floor's. */
function floorPath(floor: TransportFloor, workload: Workload): UpsertPath {
  return {
    key: 'floor',
    pid: floor.pid,
    label: 'transport floor: node:http + pg, one upsert of the same shape, the answer bytes canned',
    table: 'users',
    send: async (i, warmup) =>
      expectStatus(await floor.client.request('POST', '/api/v2/users', {}, (warmup ? workload.warmupBodies : workload.bodies)[i]!), 201, 'transport floor'),
  };
}

function plainPath(key: 'own' | 'minimal', table: string, bare: Bare, workload: Workload, via: string): UpsertPath {
  const statements = new Map<number, string>();
  const statementFor = (rows: number) => {
    let text = statements.get(rows);
    if (!text) statements.set(rows, (text = plainUpsertSql(table, rows)));
    return text;
  };
  return {
    key,
    label: `${key === 'own' ? "plain INSERT … ON CONFLICT into the server's users table" : 'plain INSERT … ON CONFLICT into the minimal table'} (${via})`,
    table,
    send: (i, warmup) => {
      const params = (warmup ? workload.warmupParams : workload.params)[i]!;
      return bare(statementFor(params.length / 3), params);
    },
  };
}

interface Pass {
  users: number;
  seconds: number;
  usersPerSecond: number;
  /** Per-request latencies (ms). */
  samples: number[];
  /** CPU time spent during the pass (ms): the server process, the PostgreSQL processes, this benchmark process. */
  cpu: { server: number; postgres: number; bench: number };
}

async function runPass(path: UpsertPath, indexes: number[], users: number, concurrency: number, warmup = false): Promise<Pass> {
  const serverPids = path.pid === undefined ? [] : [path.pid];
  const before = { server: processCpuMs(serverPids), postgres: processCpuMs(postgresPids()), bench: process.cpuUsage() };
  const { seconds, samples } = await runConcurrently(
    path.key,
    indexes.map((i) => () => path.send(i, warmup)),
    concurrency,
  );
  const bench = process.cpuUsage(before.bench);
  const cpu = {
    server: cpuSpentMs(before.server, processCpuMs(serverPids)),
    postgres: cpuSpentMs(before.postgres, processCpuMs(postgresPids())),
    bench: (bench.user + bench.system) / 1000,
  };
  return { users, seconds, usersPerSecond: users / seconds, samples, cpu };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

interface PathRounds {
  path: UpsertPath;
  fresh: Pass[];
  update: Pass[];
}

export interface UpsertFigures {
  backend: string;
  paths: PathRounds[];
  users: number;
  avgBodyBytes: number;
}

function checkDigests(paths: Array<{ path: UpsertPath; digest: string }>, expectedUsers: number) {
  const first = paths[0]!.digest;
  for (const { path, digest } of paths) {
    const [n] = digest.split(':');
    if (Number(n) !== expectedUsers) throw new Error(`${path.label}: ${n} users stored, expected ${expectedUsers}`);
    if (digest !== first) throw new Error(`${path.label} stored different users than ${paths[0]!.path.label} (${digest} ≠ ${first})`);
  }
}

async function digestOf(bare: Bare, table: string): Promise<string> {
  const { rows } = await bare(contentDigestSql(table));
  return `${rows[0].n}:${rows[0].digest}`;
}

/** PostgreSQL: the server and both baselines alternate over `config.rounds` rounds of the whole workload. */
export async function benchUpsertPostgres(config: BenchConfig, pgb: PostgresBackend, client: BenchClient, serverPid: number): Promise<UpsertFigures> {
  const { bare } = pgb;
  for (const statement of MINIMAL_TABLE_DDL) await bare(statement);
  const workload = makeWorkload(config);
  const via = `pg.Pool of ${config.concurrency}`;
  // The floor answers with the server's own bytes for a batch like the workload's.
  const sample = expectStatus(await client.request('POST', '/api/v2/users', {}, upsertBody(makeBatches('sample', BATCH_SIZE)[0]!)), 201, 'POST /api/v2/users');
  const floor = await startTransportFloor(pgb.url, sample.body, tempDir('floor'), config.concurrency);
  onCleanup(() => floor.stop());
  const paths = [
    serverPath(client, workload, serverPid),
    floorPath(floor, workload),
    plainPath('own', 'users', bare, workload, via),
    plainPath('minimal', MINIMAL_TABLE, bare, workload, via),
  ];
  const results: PathRounds[] = paths.map((path) => ({ path, fresh: [], update: [] }));
  const truncate = (table: string) => bare(`TRUNCATE ${table}${table === 'users' ? ' CASCADE' : ''}`);
  const all = range(0, workload.batches.length);

  // V8 optimizes the server's request path over its first few thousand requests: measured, its CPU per 100-user
  // upsert fell from 3–4 ms over the first 500 requests to about 1.5 ms from the 3,000th on. A server in service is
  // past that within minutes, so every path serves the same warm-up requests before the rounds (the warm-up batches,
  // new once, then updated again and again), and the rounds measure the steady state.
  const batchCount = workload.warmupBatches.length;
  const warm = range(0, Math.max(2 * batchCount, config.upsertWarmupRequests)).map((k) => k % batchCount);
  log(`  upsert warm-up (${fmtInt(warm.length)} requests per path)…`);
  for (const path of paths) {
    await truncate(path.table);
    await runPass(path, warm, 0, config.concurrency, true);
  }
  for (let round = 0; round < config.rounds; round++) {
    const order = round % 2 === 0 ? results : [...results].reverse();
    const digests: Array<{ path: UpsertPath; digest: string }> = [];
    for (const result of order) {
      await truncate(result.path.table);
      await bare('CHECKPOINT');
      const fresh = await runPass(result.path, all, workload.users, config.concurrency);
      await bare('CHECKPOINT');
      const update = await runPass(result.path, all, workload.users, config.concurrency);
      result.fresh.push(fresh);
      result.update.push(update);
      digests.push({ path: result.path, digest: await digestOf(bare, result.path.table) });
    }
    checkDigests(digests, workload.users);
    const r = (key: PathKey, pass: 'fresh' | 'update') => results.find((x) => x.path.key === key)![pass][round]!.usersPerSecond;
    log(
      `  round ${round + 1}/${config.rounds} (${order.map((x) => x.path.key).join(', ')}): new ` +
        `server ${fmtInt(r('server', 'fresh'))}, floor ${fmtInt(r('floor', 'fresh'))}, own table ${fmtInt(r('own', 'fresh'))}, minimal ${fmtInt(r('minimal', 'fresh'))} users/s; update ` +
        `server ${fmtInt(r('server', 'update'))}, floor ${fmtInt(r('floor', 'update'))}, own table ${fmtInt(r('own', 'update'))}, minimal ${fmtInt(r('minimal', 'update'))} users/s`,
    );
  }
  return { backend: 'PostgreSQL', paths: results, users: workload.users, avgBodyBytes: workload.avgBodyBytes };
}

/** PGlite, server side: the workload in slices through the server (which holds the data dir), new then again. */
export async function upsertPgliteServer(config: BenchConfig, client: BenchClient, workload: Workload, serverPid: number): Promise<PathRounds> {
  const path = serverPath(client, workload, serverPid);
  return upsertInSlices(config, path, workload);
}

/** PGlite, baselines: both plain statements on an instance of their own (same schema), one after the other. */
export async function upsertPgliteBaselines(config: BenchConfig, bare: Bare, workload: Workload): Promise<PathRounds[]> {
  for (const statement of MINIMAL_TABLE_DDL) await bare(statement);
  const results: PathRounds[] = [];
  for (const path of [plainPath('own', 'users', bare, workload, 'PGlite.query, bench process'), plainPath('minimal', MINIMAL_TABLE, bare, workload, 'PGlite.query, bench process')]) {
    results.push(await upsertInSlices(config, path, workload));
    const digest = await digestOf(bare, path.table);
    if (!digest.startsWith(`${workload.users + workload.warmupBatches.flat().length}:`)) throw new Error(`${path.label}: stored ${digest}`);
  }
  return results;
}

async function upsertInSlices(config: BenchConfig, path: UpsertPath, workload: Workload): Promise<PathRounds> {
  const result: PathRounds = { path, fresh: [], update: [] };
  const warm = range(0, workload.warmupBatches.length);
  await runPass(path, warm, 0, config.concurrency, true);
  await runPass(path, warm, 0, config.concurrency, true);
  const slices = config.pgliteRounds;
  const perSlice = Math.ceil(workload.batches.length / slices);
  const slice = (k: number) => range(k * perSlice, Math.min(workload.batches.length, (k + 1) * perSlice));
  const usersIn = (indexes: number[]) => indexes.reduce((sum, i) => sum + workload.batches[i]!.length, 0);
  for (const pass of ['fresh', 'update'] as const) {
    for (let k = 0; k < slices && k * perSlice < workload.batches.length; k++) {
      const indexes = slice(k);
      result[pass].push(await runPass(path, indexes, usersIn(indexes), config.concurrency));
    }
  }
  log(`  ${path.key}: new ${fmtInt(totalRate(result.fresh))} users/s, update ${fmtInt(totalRate(result.update))} users/s`);
  return result;
}

/** users/s over all rounds (total users ÷ total time). */
function totalRate(passes: Pass[]): number {
  return passes.reduce((s, p) => s + p.users, 0) / passes.reduce((s, p) => s + p.seconds, 0);
}

function latency(passes: Pass[]): { p50: number; p99: number } {
  const sorted = passes.flatMap((p) => p.samples).sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** Adds the upsert figures to `report` (tables side by side, and the ratios against their targets). */
export function reportUpsert(report: Report, figures: UpsertFigures, config: BenchConfig, how: string) {
  const byKey = (key: PathKey) => figures.paths.find((p) => p.path.key === key);
  const server = byKey('server')!;
  const floor = byKey('floor');
  const own = byKey('own');
  const section = report.section(
    `Upsert, ${figures.backend}`,
    `${fmtInt(figures.users)} new users {id, name, custom: {color, n}} (~${Math.round(figures.avgBodyBytes)} bytes of JSON each), ` +
      `${BATCH_SIZE} per request/statement, ${config.concurrency} concurrent keep-alive connections, then the same users upserted a ` +
      `second time (update-heavy). ${how}`,
  );
  const rateRow = (p: PathRounds) => [
    p.path.label,
    withSpread(p.fresh.map((x) => x.usersPerSecond), fmtInt),
    withSpread(p.update.map((x) => x.usersPerSecond), fmtInt),
    `${fmtMs(latency(p.fresh).p50)} / ${fmtMs(latency(p.fresh).p99)}`,
    `${fmtMs(latency(p.update).p50)} / ${fmtMs(latency(p.update).p99)}`,
  ];
  section.tables.push({
    header: ['path', 'new: users/s, median (min–max)', 'update: users/s', 'new: request p50 / p99 ms', 'update: request p50 / p99 ms'],
    rows: figures.paths.map(rateRow),
  });
  if (figures.backend === 'PostgreSQL') {
    // Where the CPU goes, per request of 100 users: on a machine whose cores the database, the server and the load
    // generator share, the server path pays for the server process's CPU on top of the database's.
    const cpuPerBatch = (passes: Pass[], part: keyof Pass['cpu']) =>
      passes.reduce((sum, x) => sum + x.cpu[part], 0) / (passes.reduce((sum, x) => sum + x.users, 0) / BATCH_SIZE);
    const perBatch = (passes: Pass[], part: keyof Pass['cpu']) => fmtMs(cpuPerBatch(passes, part));
    section.tables.push({
      header: ['CPU per request of 100 users (ms), new / update', 'server (floor) process', 'PostgreSQL processes', 'benchmark process'],
      rows: figures.paths.map((p) => [
        p.path.label,
        p.path.pid === undefined ? '–' : `${perBatch(p.fresh, 'server')} / ${perBatch(p.update, 'server')}`,
        `${perBatch(p.fresh, 'postgres')} / ${perBatch(p.update, 'postgres')}`,
        `${perBatch(p.fresh, 'bench')} / ${perBatch(p.update, 'bench')}`,
      ]),
    });
    for (const pass of ['fresh', 'update'] as const) {
      const serverCpu = cpuPerBatch(server[pass], 'server');
      const passName = pass === 'fresh' ? 'new users' : 'update-heavy';
      section.checks.push(check(`server CPU per request of 100 users, ${passName} (ms)`, serverCpu, fmtMs(serverCpu), '≤', TARGETS.upsertServerCpuMs, fmtMs));
      if (floor) {
        const floorCpu = cpuPerBatch(floor[pass], 'server');
        section.checks.push(
          info(
            `transport floor CPU per request of 100 users, ${passName} (ms)`,
            fmtMs(floorCpu),
            'node:http and pg alone, in the same rounds: what any Node process pays for this exchange',
          ),
        );
        if (own) {
          const atFloor = cpuPerBatch(own[pass], 'postgres') / (cpuPerBatch(server[pass], 'postgres') + floorCpu);
          section.checks.push(
            info(
              `CPU ceiling with the server at the transport floor, ${passName}`,
              fmtRatio(atFloor),
              `PostgreSQL ${perBatch(own[pass], 'postgres')} ms ÷ (PostgreSQL ${perBatch(server[pass], 'postgres')} + floor ${fmtMs(floorCpu)} ms)`,
            ),
          );
        }
      }
      if (own) {
        // Both paths share the machine's cores with the database, so the most the server path can reach is the
        // database's CPU for the plain statement over the database's and the server's CPU for the API path.
        const ceiling = cpuPerBatch(own[pass], 'postgres') / (cpuPerBatch(server[pass], 'postgres') + serverCpu);
        section.checks.push(
          info(
            `CPU ceiling of server ÷ plain statement into the server's table, ${passName}`,
            fmtRatio(ceiling),
            `PostgreSQL ${perBatch(own[pass], 'postgres')} ms for the plain statement ÷ (PostgreSQL ${perBatch(server[pass], 'postgres')} + server ${fmtMs(serverCpu)} ms) for the API path`,
          ),
        );
      }
    }
  }
  const perRound = (other: PathRounds, pass: 'fresh' | 'update') =>
    server[pass].map((s, i) => s.usersPerSecond / other[pass][i]!.usersPerSecond);
  const ratioRows: string[][] = [];
  for (const [key, target, name] of [
    ['minimal', undefined, 'server ÷ minimal table'],
    ['own', TARGETS.upsertVsOwnTable, "server ÷ plain statement into the server's table"],
  ] as const) {
    const other = byKey(key);
    if (!other) continue;
    for (const pass of ['fresh', 'update'] as const) {
      const ratios = perRound(other, pass);
      const label = `${name}, ${pass === 'fresh' ? 'new users' : 'update-heavy'}`;
      ratioRows.push([label, ...ratios.map(fmtRatio)]);
      if (figures.backend === 'PostgreSQL' && target === undefined) {
        section.checks.push(info(label, `${withSpread(ratios, fmtRatio)}, ${ratios.length} rounds`, "context, not a goal: the minimal table has 4 indexes to the server's 9"));
      } else if (figures.backend === 'PostgreSQL' && target !== undefined) {
        section.checks.push(check(label, median(ratios), `${withSpread(ratios, fmtRatio)}, ${ratios.length} rounds`, '≥', target, fmtRatio));
      } else {
        section.checks.push(info(label, `${withSpread(ratios, fmtRatio)} over ${ratios.length} slices`, 'separate phases (single-process database): indicative only'));
      }
    }
  }
  // What a server doing nothing but the exchange reaches against the same plain statement: the throughput ceiling of
  // the server path on this machine (it shares the cores with the database and the load generator too).
  if (floor && own && figures.backend === 'PostgreSQL') {
    for (const pass of ['fresh', 'update'] as const) {
      const ratios = floor[pass].map((f, i) => f.usersPerSecond / own[pass][i]!.usersPerSecond);
      const label = `transport floor ÷ plain statement into the server's table, ${pass === 'fresh' ? 'new users' : 'update-heavy'}`;
      ratioRows.push([label, ...ratios.map(fmtRatio)]);
      section.checks.push(info(label, `${withSpread(ratios, fmtRatio)}, ${ratios.length} rounds`, 'the most a Node server reaches here: the ceiling of the ratio above'));
    }
  }
  section.tables.push({ header: ['ratio per round', ...server.fresh.map((_, i) => `${i + 1}`)], rows: ratioRows });
  return section;
}
