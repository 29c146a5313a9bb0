// What `npm run bench` measures and how big: every size is a BENCH_* environment variable, BENCH_QUICK=1 shrinks them
// all for a smoke run (its figures are not comparable with the targets), and the targets of the performance issue.
export const BATCH_SIZE = 100; // users per upsert request (the API's maximum)

export interface BenchConfig {
  quick: boolean;
  /** Users in the upsert workload (new, then the same ones again: the update-heavy pass). */
  users: number;
  /** Alternated rounds on PostgreSQL (each round: every path writes the whole workload into an emptied table). */
  rounds: number;
  /** PGlite: the workload is cut into this many slices (server and baselines run in separate phases). */
  pgliteRounds: number;
  concurrency: number;
  warmupBatches: number;
  /** PostgreSQL upsert section: requests each path serves before the rounds (the warm-up batches, sent again and again). */
  upsertWarmupRequests: number;
  /** Users bulk-loaded for the queryUsers latencies. */
  queryUsers: number;
  /** Sequential requests per query shape and round (each followed by its bare SQL), after a tenth as many warm-up ones… */
  queryRequests: number;
  /** …or fewer when a shape has used this many seconds in the round (at least 100 are kept). */
  querySeconds: number;
  /** Rounds of the query shapes (every shape in each, the order reversed every other round); figures are their median. */
  queryRounds: number;
  /** Tasks enqueued in the database, server stopped, drained by one server process. */
  drainTasks: number;
  drainPollMs: number;
  /** Sequential deactivations timed from the request to the completed task. */
  taskRuns: number;
  taskPollMs: number;
  /** Embedded warm starts timed (existing DATA_DIR, spawn → GET /healthz 200). */
  warmStarts: number;
  /** Users of the import section's user file, on PostgreSQL and on PGlite. */
  importUsers: number;
  importPgliteUsers: number;
  backends: string[];
  /** PostgreSQL sections to run (upsert, tasks, query, webhooks); all by default. */
  sections: Set<string>;
  /** Webhooks: new users upserted per pass, with a hook and without. */
  webhookUsers: number;
  /** Webhooks: sequential single-user upserts timed until delivered, without a backlog and beside one. */
  webhookLatencyRuns: number;
  /** Webhooks: pending deliveries of a dead hook beside the healthy one. */
  webhookBacklog: number;
  postgresUrl: string;
  /** Where the Markdown report goes (the README's table is copied from it). */
  resultsFile: string;
  /** Extra node arguments for the server process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
  serverNodeArgs: string[];
}

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

export const SECTIONS = ['upsert', 'tasks', 'query', 'webhooks', 'import'];

function parseSections(raw: string | undefined): Set<string> {
  const chosen = (raw ?? SECTIONS.join(',')).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const name of chosen) {
    if (!SECTIONS.includes(name)) throw new Error(`BENCH_SECTIONS: unknown section "${name}" (${SECTIONS.join(', ')})`);
  }
  return new Set(chosen);
}

/**
 * Environment (all optional; defaults are the issue's workload, BENCH_QUICK=1 defaults in brackets):
 *   BENCH_QUICK=1                 smoke run: small sizes everywhere
 *   BENCH_USERS=50000 [2000]      upsert workload, 100 users per request
 *   BENCH_ROUNDS=5 [3]            PostgreSQL: alternated rounds (server, plain statement into users, minimal table)
 *   BENCH_PGLITE_ROUNDS=5 [2]     PGlite: slices of the workload
 *   BENCH_CONCURRENCY=8           keep-alive connections for the upserts (and pool size of the baselines)
 *   BENCH_UPSERT_WARMUP=3000 [32] PostgreSQL: requests each upsert path serves before the rounds (V8's warm-up)
 *   BENCH_QUERY_USERS=1000000 [20000]
 *   BENCH_QUERY_REQUESTS=200 [50]    per shape and round, sequential, each followed by its bare SQL
 *   BENCH_QUERY_SECONDS=5 [2]     time cap per shape and round (at least 100 requests are kept)
 *   BENCH_QUERY_ROUNDS=5 [2]      rounds over every shape, alternated; the figures are the median over the rounds
 *   BENCH_DRAIN_TASKS=10000 [1000]
 *   BENCH_DRAIN_POLL_MS=5
 *   BENCH_TASK_RUNS=300 [50]
 *   BENCH_TASK_POLL_MS=2
 *   BENCH_WARM_STARTS=5 [2]
 *   BENCH_BACKENDS=postgres,pglite,double   (double: the test double, startServer)
 *   BENCH_SECTIONS=upsert,tasks,query,webhooks,import   sections (e.g. BENCH_SECTIONS=tasks to measure the queue alone);
 *                                 PGlite runs its upsert/memory/start figures with `upsert`, its import figures with `import`
 *   BENCH_WEBHOOK_USERS=20000 [2000]      webhooks: new users per pass, with a user.updated hook and without
 *   BENCH_WEBHOOK_RUNS=200 [50]           webhooks: single-user upserts timed until delivered
 *   BENCH_WEBHOOK_BACKLOG=100000 [10000]  webhooks: pending deliveries of a dead hook
 *   BENCH_IMPORT_USERS=1000000 [20000]          import section, PostgreSQL
 *   BENCH_IMPORT_PGLITE_USERS=200000 [10000]    import section, PGlite
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432   (a throwaway bench_* database is created and dropped)
 *   BENCH_RESULTS=bench/results.md  (relative to the repository)
 *   BENCH_SERVER_NODE_ARGS=""     e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (profiles the server process)
 */
export function loadBenchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const q = (full: number, small: number) => (quick ? small : full);
  const concurrency = envInt(env, 'BENCH_CONCURRENCY', 8, 1);
  return {
    quick,
    users: envInt(env, 'BENCH_USERS', q(50_000, 2_000), BATCH_SIZE),
    rounds: envInt(env, 'BENCH_ROUNDS', q(5, 3), 1),
    pgliteRounds: envInt(env, 'BENCH_PGLITE_ROUNDS', q(5, 2), 1),
    concurrency,
    warmupBatches: 2 * concurrency,
    upsertWarmupRequests: envInt(env, 'BENCH_UPSERT_WARMUP', q(3_000, 4 * concurrency), 0),
    queryUsers: envInt(env, 'BENCH_QUERY_USERS', q(1_000_000, 20_000), 20_000),
    queryRequests: envInt(env, 'BENCH_QUERY_REQUESTS', q(200, 50), 10),
    querySeconds: envInt(env, 'BENCH_QUERY_SECONDS', q(5, 2), 1),
    queryRounds: envInt(env, 'BENCH_QUERY_ROUNDS', q(5, 2), 1),
    drainTasks: envInt(env, 'BENCH_DRAIN_TASKS', q(10_000, 1_000), 10),
    drainPollMs: envInt(env, 'BENCH_DRAIN_POLL_MS', 5, 1),
    taskRuns: envInt(env, 'BENCH_TASK_RUNS', q(300, 50), 10),
    taskPollMs: envInt(env, 'BENCH_TASK_POLL_MS', 2, 0),
    warmStarts: envInt(env, 'BENCH_WARM_STARTS', q(5, 2), 1),
    importUsers: envInt(env, 'BENCH_IMPORT_USERS', q(1_000_000, 20_000), 1_000),
    importPgliteUsers: envInt(env, 'BENCH_IMPORT_PGLITE_USERS', q(200_000, 10_000), 1_000),
    backends: (env.BENCH_BACKENDS ?? 'postgres,pglite,double').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
    sections: parseSections(env.BENCH_SECTIONS),
    webhookUsers: envInt(env, 'BENCH_WEBHOOK_USERS', q(20_000, 2_000), BATCH_SIZE),
    webhookLatencyRuns: envInt(env, 'BENCH_WEBHOOK_RUNS', q(200, 50), 10),
    webhookBacklog: envInt(env, 'BENCH_WEBHOOK_BACKLOG', q(100_000, 10_000), 0),
    postgresUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432',
    resultsFile: env.BENCH_RESULTS || 'bench/results.md',
    serverNodeArgs: (env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  };
}

/** The performance issue's targets (PostgreSQL unless said otherwise). */
export const TARGETS = {
  /** server users/s ÷ the same plain INSERT … ON CONFLICT into the server's own users table (the minimal table's
   * ratio is reported as context: it has 4 indexes to the server's 9). */
  upsertVsOwnTable: 0.75,
  /** CPU of the server process per upsert request of 100 users (ms). */
  upsertServerCpuMs: 1,
  drainTasksPerSecond: 1_500,
  taskLatencyP50Ms: 15,
  taskLatencyP99Ms: 100,
  queryP50Ms: 3,
  queryP99Ms: 15,
  /** A queryUsers request's time outside its SQL (HTTP, auth, JSON, rate-limit counting), p50 per shape. */
  requestOverheadP50Ms: 0.5,
  warmStartSeconds: 1,
  rssMegabytes: 300,
} as const;
