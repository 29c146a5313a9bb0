// The import section (`BENCH_SECTIONS=import` runs it alone): `npm run import -- FILE` as a team runs it, the command
// and the server each a process of their own, on a generated user file of BENCH_IMPORT_USERS users (v2 form).
//
//   into an empty database, next to a bare COPY of the same rows into a copy of the users table with all its indexes
//   (PostgreSQL: COPY … FROM a file the server reads; PGlite: COPY … FROM '/dev/blob' in an instance of its own);
//   into a database that already holds those users (every one of them changed): the rate, next to the upsert API
//   path (POST /api/v2/users, 100 users a request) on the same database;
//   the command's and the server's peak memory (VmHWM), which must not grow with the file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { microsToRfc3339 } from '../src/db/timestamps.js';
import { openPglite, type Bare, type PostgresBackend } from './backends.js';
import type { BenchConfig } from './config.js';
import { expectStatus, type BenchClient } from './http.js';
import { log, onCleanup, phase, tempDir, workPath } from './lifecycle.js';
import { runConcurrently } from './measure.js';
import { check, fmtInt, fmtMB, fmtRatio, info, type Report, type Section } from './report.js';
import { API_KEY, launchServer, ROOT } from './server.js';

/** Import ÷ bare COPY into a copy of users with its indexes, into an empty database. */
export const IMPORT_VS_COPY = 0.8;

const COLUMNS = ['id', 'name', 'image', 'role', 'language', 'teams', 'teams_role', 'invisible', 'custom', 'created_at', 'updated_at', 'last_active', 'deactivated_at'];

interface GeneratedUser {
  id: string;
  name: string;
  image: string | null;
  role: string;
  language: string;
  teams: string[];
  teams_role: Record<string, string> | null;
  invisible: boolean;
  custom: Record<string, unknown>;
  created_at: bigint;
  updated_at: bigint;
  last_active: bigint | null;
  deactivated_at: bigint | null;
}

const BASE_MICROS = 1_600_000_000_000_000n;

/** User i of the workload; `version` 1 is every user changed (newer updated_at, another name and custom data). */
function generated(i: number, version: number): GeneratedUser {
  return {
    id: `imp-${String(i).padStart(8, '0')}`,
    name: `Imported user ${i}${version > 0 ? ` v${version}` : ''}`,
    image: i % 3 === 0 ? `https://example.com/avatars/${i}.png` : null,
    role: i % 50 === 0 ? 'admin' : 'user',
    language: i % 4 === 0 ? 'fr' : 'en',
    teams: i % 5 === 0 ? ['red', 'blue'] : [],
    teams_role: i % 5 === 0 ? { red: 'admin' } : null,
    invisible: i % 7 === 0,
    custom: { n: i, plan: i % 2 ? 'pro' : 'free', tags: ['a', `t${i % 10}`], version },
    created_at: BASE_MICROS + BigInt(i) * 1_000_123n,
    updated_at: BASE_MICROS + BigInt(i) * 1_000_123n + BigInt(version + 1) * 86_400_000_000n,
    last_active: i % 2 ? BASE_MICROS + BigInt(i) * 2_000_001n : null,
    deactivated_at: i % 97 === 0 ? BASE_MICROS + BigInt(i) * 3_000_000n : null,
  };
}

function fileLine(user: GeneratedUser): string {
  const line: Record<string, unknown> = { id: user.id, name: user.name, role: user.role, language: user.language, teams: user.teams, invisible: user.invisible, custom: user.custom };
  if (user.image) line.image = user.image;
  if (user.teams_role) line.teams_role = user.teams_role;
  line.created_at = microsToRfc3339(user.created_at);
  line.updated_at = microsToRfc3339(user.updated_at);
  if (user.last_active !== null) line.last_active = microsToRfc3339(user.last_active);
  if (user.deactivated_at !== null) line.deactivated_at = microsToRfc3339(user.deactivated_at);
  return JSON.stringify(line);
}

/** COPY's text format: tab-separated, \N for null, backslash escapes. */
function copyLine(user: GeneratedUser): string {
  const text = (value: string | null) => (value === null ? '\\N' : value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r'));
  const time = (value: bigint | null) => (value === null ? '\\N' : microsToRfc3339(value));
  return [
    text(user.id), text(user.name), text(user.image), text(user.role), text(user.language), text(`{${user.teams.join(',')}}`),
    text(user.teams_role && JSON.stringify(user.teams_role)), user.invisible ? 't' : 'f', text(JSON.stringify(user.custom)),
    time(user.created_at), time(user.updated_at), time(user.last_active), time(user.deactivated_at),
  ].join('\t');
}

/** Writes the workload as a user file and, for the baseline, as COPY text; block by block, never all in memory. */
async function writeWorkload(users: number, version: number, file: string, copyFile?: string): Promise<void> {
  const out = fs.openSync(file, 'w');
  const copy = copyFile ? fs.openSync(copyFile, 'w', 0o644) : undefined;
  try {
    for (let start = 0; start < users; start += 10_000) {
      const block = Array.from({ length: Math.min(10_000, users - start) }, (_, k) => generated(start + k, version));
      fs.writeSync(out, `${block.map(fileLine).join('\n')}\n`);
      if (copy !== undefined) fs.writeSync(copy, `${block.map(copyLine).join('\n')}\n`);
    }
  } finally {
    fs.closeSync(out);
    if (copy !== undefined) fs.closeSync(copy);
  }
}

interface CommandRun {
  seconds: number;
  usersPerSecond: number;
  report: { status: string; totals: { imported: number; unchanged: number; failed: number }; memory?: { max_rss_bytes: number } };
}

/** `npm run import -- FILE` (the command's own process, as a team runs it) against the server at `url`. */
async function runImportCommand(file: string, url: string, apiSecret: string, users: number): Promise<CommandRun> {
  const checkpoint = workPath(`import-checkpoint-${Date.now()}.json`);
  const started = performance.now();
  const { status, stdout, stderr } = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/import/cli.ts', file, '--to', url, '--to-key', API_KEY, '--to-secret', apiSecret, '--checkpoint', checkpoint, '--json'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr = (stderr + data).slice(-4000)));
    child.on('exit', (code) => resolve({ status: code, stdout, stderr }));
  });
  const seconds = (performance.now() - started) / 1000;
  if (status !== 0) throw new Error(`npm run import exited with ${status}: ${stderr}`);
  const report = JSON.parse(stdout) as CommandRun['report'];
  const done = report.totals.imported + report.totals.unchanged;
  if (done !== users || report.totals.failed !== 0) throw new Error(`npm run import: ${JSON.stringify(report.totals)}, expected ${users} users`);
  return { seconds, usersPerSecond: users / seconds, report };
}

/** The upsert API path on the same database: the first `users` users of `version`, 100 a request. */
async function upsertRate(client: BenchClient, users: number, version: number, concurrency: number): Promise<number> {
  const bodies: Buffer[] = [];
  for (let start = 0; start < users; start += 100) {
    const batch: Record<string, unknown> = {};
    for (let i = start; i < Math.min(users, start + 100); i++) {
      const user = generated(i, version);
      // Deactivated users refuse upserts: the API path writes the active ones.
      if (user.deactivated_at !== null) continue;
      batch[user.id] = { id: user.id, name: user.name, image: user.image ?? undefined, role: user.role, language: user.language, teams: user.teams, teams_role: user.teams_role ?? undefined, invisible: user.invisible, custom: user.custom };
    }
    bodies.push(Buffer.from(JSON.stringify({ users: batch })));
  }
  const written = bodies.reduce((sum, body) => sum + Object.keys(JSON.parse(body.toString()).users).length, 0);
  const { seconds } = await runConcurrently(
    'upsert',
    bodies.map((body) => async () => expectStatus(await client.request('POST', '/api/v2/users', {}, body), 201, 'POST /api/v2/users')),
    concurrency,
  );
  return written / seconds;
}

export interface ImportFigures {
  backend: 'PostgreSQL' | 'PGlite';
  users: number;
  fileBytes: number;
  copyPerSecond: number;
  fresh: CommandRun;
  existing: CommandRun;
  upsertPerSecond: number;
  upsertUsers: number;
  serverPeakBytes: number;
}

/** A copy of users with every index, for the COPY baseline; empty. */
async function createBaselineTable(bare: Bare) {
  await bare('DROP TABLE IF EXISTS import_copy_baseline');
  await bare('CREATE TABLE import_copy_baseline (LIKE users INCLUDING ALL)');
}

export async function benchImportPostgres(config: BenchConfig, pgb: PostgresBackend, apiSecret: string): Promise<ImportFigures> {
  const users = config.importUsers;
  // The COPY file is read by the PostgreSQL server process: a directory it may enter.
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-import-'));
  fs.chmodSync(shared, 0o755);
  onCleanup(async () => fs.rmSync(shared, { recursive: true, force: true }));
  const file = path.join(shared, 'users.ndjson');
  const copyFile = path.join(shared, 'users.copy');
  const changed = path.join(shared, 'users-changed.ndjson');
  log(`  import: writing ${fmtInt(users)} users as a user file and as COPY text…`);
  await writeWorkload(users, 0, file, copyFile);
  await writeWorkload(users, 1, changed);

  await createBaselineTable(pgb.bare);
  await pgb.bare('CHECKPOINT');
  let t = performance.now();
  await pgb.bare(`COPY import_copy_baseline (${COLUMNS.join(', ')}) FROM '${copyFile}'`);
  const copySeconds = (performance.now() - t) / 1000;
  await pgb.bare('DROP TABLE import_copy_baseline');
  log(`  bare COPY into a copy of users with its indexes: ${fmtInt(users / copySeconds)} users/s`);

  return phase(async () => {
    const server = await launchServer('PostgreSQL, import', { DATABASE_URL: pgb.url }, { apiSecret, sockets: config.concurrency });
    await pgb.bare('TRUNCATE users CASCADE');
    await pgb.bare('CHECKPOINT');
    const fresh = await runImportCommand(file, server.process.url, apiSecret, users);
    log(`  npm run import into an empty database: ${fmtInt(fresh.usersPerSecond)} users/s (${fmtRatio(fresh.usersPerSecond / (users / copySeconds))} of COPY)`);
    await pgb.bare('CHECKPOINT');
    const existing = await runImportCommand(changed, server.process.url, apiSecret, users);
    if (existing.report.totals.imported !== users) throw new Error(`the second import wrote ${existing.report.totals.imported} users, expected ${users}`);
    log(`  npm run import over ${fmtInt(users)} stored users (all changed): ${fmtInt(existing.usersPerSecond)} users/s`);
    const upsertUsers = Math.min(users, 100_000);
    t = performance.now();
    const upsertPerSecond = await upsertRate(server.client, upsertUsers, 2, config.concurrency);
    log(`  upsert API over stored users: ${fmtInt(upsertPerSecond)} users/s (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    const serverPeakBytes = server.process.memory().peak;
    await server.stop();
    return { backend: 'PostgreSQL', users, fileBytes: fs.statSync(file).size, copyPerSecond: users / copySeconds, fresh, existing, upsertPerSecond, upsertUsers, serverPeakBytes };
  });
}

export async function benchImportPglite(config: BenchConfig, apiSecret: string): Promise<ImportFigures> {
  const users = config.importPgliteUsers;
  const dir = tempDir('pglite-import');
  const file = path.join(dir, 'users.ndjson');
  const copyFile = path.join(dir, 'users.copy');
  const changed = path.join(dir, 'users-changed.ndjson');
  log(`  import: writing ${fmtInt(users)} users as a user file and as COPY text…`);
  await writeWorkload(users, 0, file, copyFile);
  await writeWorkload(users, 1, changed);

  const copyPerSecond = await phase(async () => {
    const { pglite, bare } = await openPglite(tempDir('pglite-copy'));
    await createBaselineTable(bare);
    const blob = new Blob([fs.readFileSync(copyFile)]);
    const t = performance.now();
    await pglite.query(`COPY import_copy_baseline (${COLUMNS.join(', ')}) FROM '/dev/blob'`, [], { blob });
    const rate = users / ((performance.now() - t) / 1000);
    log(`  bare COPY (PGlite, /dev/blob) into a copy of users with its indexes: ${fmtInt(rate)} users/s`);
    return rate;
  });

  return phase(async () => {
    const server = await launchServer('PGlite, import', { DATA_DIR: tempDir('pglite-import-server') }, { apiSecret, sockets: config.concurrency });
    const fresh = await runImportCommand(file, server.process.url, apiSecret, users);
    log(`  npm run import into an empty database: ${fmtInt(fresh.usersPerSecond)} users/s (${fmtRatio(fresh.usersPerSecond / copyPerSecond)} of COPY)`);
    const existing = await runImportCommand(changed, server.process.url, apiSecret, users);
    log(`  npm run import over ${fmtInt(users)} stored users (all changed): ${fmtInt(existing.usersPerSecond)} users/s`);
    const upsertUsers = Math.min(users, 50_000);
    const upsertPerSecond = await upsertRate(server.client, upsertUsers, 2, config.concurrency);
    log(`  upsert API over stored users: ${fmtInt(upsertPerSecond)} users/s`);
    const serverPeakBytes = server.process.memory().peak;
    await server.stop();
    return { backend: 'PGlite', users, fileBytes: fs.statSync(file).size, copyPerSecond, fresh, existing, upsertPerSecond, upsertUsers, serverPeakBytes };
  });
}

export function reportImport(report: Report, figures: ImportFigures): Section {
  const { backend, users } = figures;
  const section = report.section(
    `Import (${backend})`,
    `\`npm run import -- FILE\` (its own process; chunks of 5,000 lines, 2 in flight, not compressed to a server on this machine) into the server (its own process), ` +
      `${fmtInt(users)} users in a ${fmtMB(figures.fileBytes)} v2 user file. The baseline is a bare COPY of the same rows ` +
      `into a copy of the users table with all its indexes (${backend === 'PostgreSQL' ? 'COPY … FROM a file the PostgreSQL server reads' : "COPY … FROM '/dev/blob' in a PGlite instance of its own"}). ` +
      `"Over stored users": the same users again, every one changed (newer updated_at), next to the upsert API path ` +
      `(POST /api/v2/users, 100 users a request, ${fmtInt(figures.upsertUsers)} stored users) on the same database.`,
  );
  const ratio = figures.fresh.usersPerSecond / figures.copyPerSecond;
  section.checks.push(
    backend === 'PostgreSQL'
      ? check('import into an empty database ÷ bare COPY', ratio, fmtRatio(ratio), '≥', IMPORT_VS_COPY, fmtRatio, `${fmtInt(figures.fresh.usersPerSecond)} vs ${fmtInt(figures.copyPerSecond)} users/s`)
      : info('import into an empty database ÷ bare COPY', fmtRatio(ratio), `${fmtInt(figures.fresh.usersPerSecond)} vs ${fmtInt(figures.copyPerSecond)} users/s`),
    info('import over stored users', `${fmtInt(figures.existing.usersPerSecond)} users/s`, `${fmtRatio(figures.existing.usersPerSecond / figures.upsertPerSecond)} the upsert API's ${fmtInt(figures.upsertPerSecond)} users/s`),
    info('peak memory: command, server', `${fmtMB(figures.fresh.report.memory?.max_rss_bytes ?? NaN)}, ${fmtMB(figures.serverPeakBytes)}`, `for a ${fmtMB(figures.fileBytes)} file`),
  );
  return section;
}
