// The test-double section: startServer() from the packed entry (dist/index.mjs) in a fresh Node process each round,
// timed from the call until it resolves (the server answers); that process's idle RSS a second later; then clear() at
// 10,000 users (upserted through the API, 100 per request), timed in-process, repeated.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { log, tempDir, workPath } from './lifecycle.js';
import { median, withSpread } from './measure.js';
import { check, fmtMB, type Report } from './report.js';
import { ROOT, startServerProcess } from './server.js';

export interface TestDoubleFigures {
  startMs: number[];
  /** `node dist/server.mjs` on a data folder made by an earlier start: spawn until /healthz answers. */
  diskWarmStartMs: number[];
  idleRss: number[];
  clearMs: number[];
  users: number;
}

const ROUNDS = 5;
const CLEARS_PER_ROUND = 3;
const USERS = 10_000;

/** What one round runs, in a process of its own (so that each start loads the module and the engine anew). */
const ROUND = `
import { StreamClient } from '@stream-io/node-sdk';
const { startServer } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.mjs'))});
const started = performance.now();
const server = await startServer();
const startMs = performance.now() - started;
await new Promise((resolve) => setTimeout(resolve, 1000));
globalThis.gc?.();
const idleRss = process.memoryUsage().rss;
const client = new StreamClient(server.apiKey, server.apiSecret, { basePath: server.url, timeout: 60000 });
const clearMs = [];
for (let k = 0; k < ${CLEARS_PER_ROUND}; k++) {
  for (let i = 0; i < ${USERS}; i += 100) {
    await client.upsertUsers(Array.from({ length: 100 }, (_, j) => ({ id: 'u' + (i + j), name: 'User ' + (i + j), custom: { n: i + j } })));
  }
  const t = performance.now();
  await server.clear();
  clearMs.push(performance.now() - t);
}
await server.stop();
console.log(JSON.stringify({ startMs, idleRss, clearMs }));
`;

export async function benchTestDouble(): Promise<TestDoubleFigures> {
  const figures: TestDoubleFigures = { startMs: [], diskWarmStartMs: [], idleRss: [], clearMs: [], users: USERS };
  for (let round = 1; round <= ROUNDS; round++) {
    const output = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', ROUND], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
    const { startMs, idleRss, clearMs } = JSON.parse(output.trim().split('\n').pop()!);
    figures.startMs.push(startMs);
    figures.idleRss.push(idleRss);
    figures.clearMs.push(...clearMs);
    log(`  round ${round}: start ${startMs.toFixed(0)} ms, idle RSS ${fmtMB(idleRss)}, clear at ${USERS} users ${clearMs.map((ms: number) => ms.toFixed(1)).join(' / ')} ms`);
  }
  // Disk: a first start makes the data folder (from the template), then warm starts on it.
  const dataDir = tempDir('double-disk');
  for (let round = 0; round <= ROUNDS; round++) {
    const server = await startServerProcess({ env: { DATA_DIR: dataDir, STREAM_API_KEY: 'bench', STREAM_API_SECRET: 'bench-secret-0123456789abcdef' }, logFile: workPath(`double-disk-${round}.log`) });
    if (round > 0) figures.diskWarmStartMs.push(server.startMs);
    await server.stop();
  }
  log(`  disk warm starts: ${figures.diskWarmStartMs.map((ms) => ms.toFixed(0)).join(' / ')} ms`);
  return figures;
}

export function reportTestDouble(report: Report, figures: TestDoubleFigures) {
  const section = report.section(
    'Test double (startServer, memory mode)',
    `startServer() with its defaults (memory mode, a free port, logs at warn, rate limiting off), imported from dist/index.mjs ` +
      `in a fresh Node process each of ${figures.startMs.length} rounds and timed from the call until it resolves; the ` +
      `process's RSS a second later, after a GC; then ${CLEARS_PER_ROUND} times per round: ${figures.users.toLocaleString('en-US')} users ` +
      `upserted through the API, and clear() timed. Disk warm start: \`node dist/server.mjs\` on a data folder an earlier start made, ` +
      `from spawn until GET /healthz answers 200.`,
  );
  const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
  section.checks.push(
    check('memory-mode start, call to ready (s)', median(figures.startMs) / 1000, `${withSpread(figures.startMs.map((n) => n / 1000), (s) => s.toFixed(2))} s`, '≤', 1, (s) => `${s.toFixed(2)} s`),
    check('disk warm start, spawn to /healthz (s)', median(figures.diskWarmStartMs) / 1000, `${withSpread(figures.diskWarmStartMs.map((n) => n / 1000), (s) => s.toFixed(2))} s`, '≤', 1, (s) => `${s.toFixed(2)} s`),
    check('idle RSS', median(figures.idleRss), withSpread(figures.idleRss, fmtMB), '≤', 200 * 2 ** 20, fmtMB),
    check(`clear() at ${figures.users.toLocaleString('en-US')} users`, median(figures.clearMs), withSpread(figures.clearMs, ms), '≤', 50, ms),
  );
  return section;
}
