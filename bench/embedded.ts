// The embedded (PGlite) section: the upsert workload through a server on a fresh DATA_DIR, its resident memory right
// after, warm starts on that DATA_DIR (spawn → GET /healthz 200), and the baselines on an instance of their own.
import { TARGETS, type BenchConfig } from './config.js';
import { openPglite, pgliteVersion } from './backends.js';
import { log, phase, tempDir } from './lifecycle.js';
import { median, withSpread } from './measure.js';
import { check, fmtMB, fmtSeconds, info, type Report } from './report.js';
import { launchServer } from './server.js';
import { makeWorkload, reportUpsert, upsertPgliteBaselines, upsertPgliteServer, type UpsertFigures } from './upsert.js';
import { contentDigestSql } from './workload.js';

export interface EmbeddedFigures {
  upsert: UpsertFigures;
  firstStartSeconds: number;
  /** RSS and peak of the first process (which ran initdb), right after its start. */
  firstStartRss: number;
  firstStartPeakRss: number;
  warmStartSeconds: number[];
  rss: number;
  peakRss: number;
  version: string;
}

export async function benchEmbedded(config: BenchConfig, server: { apiSecret: string; nodeArgs: string[] }): Promise<EmbeddedFigures> {
  const workload = makeWorkload(config);
  const dataDir = tempDir('pglite-server');
  const launch = (label: string) => launchServer(label, { DATA_DIR: dataDir }, { ...server, sockets: config.concurrency });

  // The first start initializes the DATA_DIR (initdb, in the server process); what it keeps in memory afterwards is
  // reported on its own, and the upsert run happens in a process started on the initialized DATA_DIR.
  const first = await phase(async () => {
    const running = await launch('PGlite, first start');
    const memory = running.process.memory();
    await running.stop();
    return { seconds: running.process.startMs / 1000, memory };
  });
  const { serverRounds, memory } = await phase(async () => {
    const running = await launch('PGlite, upserts');
    log(`  server: upserting ${workload.users} users in ${config.pgliteRounds} slices, then again…`);
    const serverRounds = await upsertPgliteServer(config, running.client, workload, running.process.pid);
    const memory = running.process.memory();
    log(`  server RSS after the upserts: ${fmtMB(memory.rss)} (peak ${fmtMB(memory.peak)})`);
    await running.stop();
    return { serverRounds, memory };
  });

  // What the server stored, read from its data dir now that it is stopped.
  const { version } = await phase(async () => {
    const { bare } = await openPglite(dataDir);
    const { rows } = await bare(contentDigestSql('users'));
    const expected = workload.users + workload.warmupBatches.flat().length;
    if (rows[0].n !== expected) throw new Error(`PGlite server stored ${rows[0].n} users, expected ${expected}`);
    return { version: (await bare(`SELECT current_setting('server_version') AS v`)).rows[0].v as string };
  });

  const warm: number[] = [];
  for (let k = 0; k < config.warmStarts; k++) {
    await phase(async () => {
      const running = await launch(`PGlite, warm start ${k + 1}`);
      warm.push(running.process.startMs / 1000);
      await running.stop();
    });
  }

  log('  baselines on an instance of their own in this process…');
  const baselines = await phase(async () => {
    const { bare } = await openPglite(tempDir('pglite-baseline'));
    return upsertPgliteBaselines(config, bare, workload);
  });

  return {
    upsert: { backend: `PGlite ${pgliteVersion()}`, paths: [serverRounds, ...baselines], users: workload.users, avgBodyBytes: workload.avgBodyBytes },
    firstStartSeconds: first.seconds,
    firstStartRss: first.memory.rss,
    firstStartPeakRss: first.memory.peak,
    warmStartSeconds: warm,
    rss: memory.rss,
    peakRss: memory.peak,
    version: `PGlite ${pgliteVersion()} (PostgreSQL ${version})`,
  };
}

export function reportEmbedded(report: Report, figures: EmbeddedFigures, config: BenchConfig) {
  const upsert = reportUpsert(
    report,
    figures.upsert,
    config,
    `${figures.version}, in the server process, data dir on local disk. The server and the baselines run in separate phases ` +
      `(PGlite is single-process; the baselines on an instance of their own in the bench process), the workload cut into ` +
      `${config.pgliteRounds} slices; no CHECKPOINTs; tables are not emptied between slices.`,
  );
  const section = report.section(
    'Embedded (PGlite) start and memory',
    `Warm start: the server process started on the DATA_DIR of the upsert run (${figures.upsert.users.toLocaleString('en-US')}+ users), ` +
      `timed from spawn (node dist/server.mjs, the bundle npm start runs) until GET /healthz answers 200, ${figures.warmStartSeconds.length} times. ` +
      `RSS: VmRSS of the server process right after its upsert run (a process started on the initialized DATA_DIR: the ` +
      `first start, which runs initdb in the server process, is reported apart).`,
  );
  const warm = median(figures.warmStartSeconds);
  section.checks.push(
    check('warm start (s)', warm, `${withSpread(figures.warmStartSeconds, (s) => s.toFixed(2))} s`, '≤', TARGETS.warmStartSeconds, fmtSeconds, `first start on an empty DATA_DIR: ${fmtSeconds(figures.firstStartSeconds)}`),
    check('RSS after the upsert run', figures.rss, fmtMB(figures.rss), '≤', TARGETS.rssMegabytes * 2 ** 20, fmtMB, `peak (VmHWM) ${fmtMB(figures.peakRss)}`),
    info('first start on an empty DATA_DIR: RSS right after it', fmtMB(figures.firstStartRss), `peak (VmHWM, initdb) ${fmtMB(figures.firstStartPeakRss)}`),
  );
  return [upsert, section];
}
