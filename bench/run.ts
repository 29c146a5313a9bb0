// `npm run bench`: the performance issue's figures, each against its target, printed as the run goes and written as
// Markdown (bench/results.md, which the README's Benchmarks section is copied from).
//
//   PostgreSQL (a throwaway bench_* database): upsert throughput of the server next to two bare-pg baselines,
//   alternated over rounds (upsert.ts); the task queue's drain rate and latency (tasks.ts); queryUsers latencies at
//   1,000,000 users next to their bare SQL (query.ts); upserts with a webhook against none, and a healthy hook's
//   delivery latency beside a dead hook's backlog (webhooks.ts).
//   PGlite: the same upserts, the server's memory after them, warm starts (embedded.ts).
//   Test double: startServer()'s start, idle memory and clear() (test-double.ts).
//
// The server always runs as its own process in its default configuration (server.ts). Sizes: see config.ts
// (BENCH_QUICK=1 for a smoke run).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createPostgres, pgliteVersion } from './backends.js';
import { loadBenchConfig, SECTIONS, type BenchConfig } from './config.js';
import { benchEmbedded, reportEmbedded } from './embedded.js';
import { benchImportPglite, benchImportPostgres, reportImport } from './import.js';
import { initLifecycle, isInterrupted, log, phase, runCleanups } from './lifecycle.js';
import { benchQueries, loadQueryUsers, reportQueries } from './query.js';
import { copyToReadme, fmtInt, Report } from './report.js';
import { launchServer, ROOT } from './server.js';
import { benchTaskLatency, prepareTasks, reportTasks, watchDrain } from './tasks.js';
import { benchTestDouble, reportTestDouble } from './test-double.js';
import { benchUpsertPostgres, reportUpsert } from './upsert.js';
import { benchWebhooks, reportWebhooks } from './webhooks.js';

const config = loadBenchConfig();
const serverOptions = { apiSecret: randomBytes(24).toString('base64url'), nodeArgs: config.serverNodeArgs };
const report = new Report();
const versions: { postgres?: string; pglite?: string; postgresSettings?: string } = {};

async function benchPostgres(config: BenchConfig) {
  const pgb = await createPostgres(config.postgresUrl, config.concurrency);
  if (!pgb) return;
  versions.postgres = pgb.version;
  versions.postgresSettings = pgb.settings;
  log(`\nPostgreSQL ${pgb.version} (${pgb.where}; ${pgb.settings}), database ${pgb.name}`);
  const launch = (label: string) => launchServer(label, { DATABASE_URL: pgb.url }, { ...serverOptions, sockets: config.concurrency });

  if (config.sections.has('upsert')) {
    const upsert = await phase(async () => {
      const server = await launch('PostgreSQL, upserts');
      log(`  upserting ${fmtInt(config.users)} users, then again, over ${config.rounds} rounds…`);
      const figures = await benchUpsertPostgres(config, pgb, server.client, server.process.pid);
      await server.stop();
      return figures;
    });
    report.print(
      reportUpsert(
        report,
        upsert,
        config,
        `PostgreSQL ${pgb.version} (${pgb.where}). Every path first serves ${fmtInt(config.upsertWarmupRequests)} warm-up requests ` +
          `(V8 optimizes the server's request path over its first few thousand), then ${config.rounds} rounds; in each, every path empties its table, then runs the ` +
          `new and the update pass with a CHECKPOINT before each; the order alternates (server, transport floor, own table, ` +
          `minimal; then reversed). Baselines through bare pg (a pg.Pool of ${config.concurrency}) from the bench process; the ` +
          `transport floor (bench/transport-floor-server.mjs) is a process of its own, driven like the server.`,
      ),
    );
  }

  if (config.sections.has('tasks')) {
    const { drain, latency } = await phase(async () => {
      log(`  tasks: ${fmtInt(config.drainTasks)} DeactivateUsers tasks written while the server is stopped…`);
      await prepareTasks(config, pgb.bare);
      const server = await launch('PostgreSQL, tasks');
      const drain = await watchDrain(config, pgb.bare, server);
      log(`  drained ${fmtInt(drain.tasks)} tasks in ${drain.seconds.toFixed(2)} s: ${fmtInt(drain.tasks / drain.seconds)} tasks/s`);
      const latency = await benchTaskLatency(config, server.client, pgb.bare);
      await server.stop();
      return { drain, latency };
    });
    report.print(reportTasks(report, drain, latency, config));
  }

  if (config.sections.has('webhooks')) {
    const figures = await phase(async () => {
      const server = await launch('PostgreSQL, webhooks');
      const figures = await benchWebhooks(config, pgb, server.client);
      await server.stop();
      return figures;
    });
    report.print(reportWebhooks(report, figures, config));
  }
  if (config.sections.has('import')) report.print(reportImport(report, await phase(() => benchImportPostgres(config, pgb, serverOptions.apiSecret))));

  if (!config.sections.has('query')) return;
  const load = await loadQueryUsers(config, pgb);
  const shapes = await phase(async () => {
    const server = await launch('PostgreSQL, queries');
    const shapes = await benchQueries(config, pgb, server.client);
    await server.stop();
    return shapes;
  });
  report.print(reportQueries(report, shapes, load, config.queryRounds));
}

async function benchPglite(config: BenchConfig) {
  log('\nPGlite (embedded)');
  if (config.sections.has('upsert')) {
    const figures = await benchEmbedded(config, serverOptions);
    versions.pglite = figures.version;
    for (const section of reportEmbedded(report, figures, config)) report.print(section);
  }
  if (config.sections.has('import')) report.print(reportImport(report, await phase(() => benchImportPglite(config, serverOptions.apiSecret))));
}

async function benchDouble() {
  log('\nTest double (startServer, memory mode)');
  report.print(reportTestDouble(report, await benchTestDouble()));
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.type()} ${os.release()}`;
}

const loadAverage = () => os.loadavg().map((n) => n.toFixed(2)).join(' ');

async function main() {
  initLifecycle();
  const startLoad = loadAverage();
  const started = new Date();
  log(
    `Benchmark${config.quick ? ' (BENCH_QUICK: small sizes, not comparable with the targets)' : ''}: ${fmtInt(config.users)} upserted users ` +
      `× ${config.rounds} rounds, ${fmtInt(config.queryUsers)} users for queries, ${fmtInt(config.drainTasks)} tasks drained; ` +
      `Node ${process.version}, ${machine()}, load average ${startLoad}`,
  );
  const runners: Record<string, (config: BenchConfig) => Promise<void>> = { postgres: benchPostgres, pglite: benchPglite, double: benchDouble };
  for (const key of config.backends) {
    const run = runners[key];
    if (!run) throw new Error(`BENCH_BACKENDS: unknown backend "${key}" (postgres, pglite)`);
    try {
      // Each backend's servers, pools, databases and temp files are gone before the next, so they don't share the CPU.
      await phase(() => run(config));
    } catch (error) {
      if (isInterrupted()) return;
      console.error(`\n${key}: benchmark failed:`, error);
      process.exitCode = 1;
    }
  }
  if (isInterrupted()) return;
  const seconds = (Date.now() - started.getTime()) / 1000;
  console.log(`\n== Summary\n${report.summary()}`);
  const file = path.resolve(ROOT, config.resultsFile);
  report.write(file, `## Benchmark results${config.quick ? ' (BENCH_QUICK smoke run: sizes too small for the targets)' : ''}`, [
    `Produced by \`npm run bench\` on ${started.toISOString().slice(0, 10)} in ${Math.round(seconds)} s: ${machine()}, Node ${process.version}, ` +
      `PostgreSQL ${versions.postgres ?? '(not run)'} on the same machine${versions.postgresSettings ? ` (${versions.postgresSettings}, as configured on the shared server)` : ''}, ${versions.pglite ?? `PGlite ${pgliteVersion()} (not run)`}. ` +
      `Load average ${startLoad} at the start, ${loadAverage()} at the end (the machine is shared: absolute figures vary, the ratios ` +
      `measured alternately in one run are steadier).`,
    `The server runs as its own process (\`node dist/server.mjs\`, the bundle \`npm start\` runs) in its default configuration (rate limits as ` +
      `shipped, LOG_LEVEL info, no webhook but in the webhooks section), driven over raw HTTP with keep-alive connections and a server-side JWT. ` +
      `Sizes: BENCH_USERS=${config.users}, BENCH_ROUNDS=${config.rounds}, BENCH_PGLITE_ROUNDS=${config.pgliteRounds}, ` +
      `BENCH_CONCURRENCY=${config.concurrency}, BENCH_UPSERT_WARMUP=${config.upsertWarmupRequests}, BENCH_QUERY_USERS=${config.queryUsers}, BENCH_QUERY_REQUESTS=${config.queryRequests}, BENCH_QUERY_ROUNDS=${config.queryRounds}, ` +
      `BENCH_DRAIN_TASKS=${config.drainTasks}, BENCH_TASK_RUNS=${config.taskRuns}, BENCH_WARM_STARTS=${config.warmStarts}, ` +
      `BENCH_WEBHOOK_USERS=${config.webhookUsers}, BENCH_WEBHOOK_RUNS=${config.webhookLatencyRuns}, BENCH_WEBHOOK_BACKLOG=${config.webhookBacklog}, ` +
      `BENCH_IMPORT_USERS=${config.importUsers}, BENCH_IMPORT_PGLITE_USERS=${config.importPgliteUsers}.`,
  ]);
  // The README shows the figures of a complete run only.
  const complete = !config.quick && ['postgres', 'pglite', 'double'].every((key) => config.backends.includes(key)) && config.sections.size === SECTIONS.length;
  if (complete && process.exitCode === undefined && copyToReadme(file, path.join(ROOT, 'README.md'))) log('Copied the figures into README.md (Benchmarks).');
  log(`\nWrote ${path.relative(process.cwd(), file) || file}. Done in ${Math.round(seconds)} s (load average at the end ${loadAverage()}).`);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await runCleanups();
}
