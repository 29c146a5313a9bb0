// The two databases the benchmark drives: a throwaway bench_* database on a PostgreSQL server (with a bare pg pool
// for the baselines), and embedded PGlite data dirs opened exactly as the server opens them.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { log, onCleanup } from './lifecycle.js';
import { ROOT } from './server.js';

/** Runs one statement with bind parameters, the driver's rows back. */
export type Bare = (text: string, params?: unknown[]) => Promise<{ rows: any[] }>;

export interface PostgresBackend {
  /** URL of the throwaway database (what the server gets as DATABASE_URL). */
  url: string;
  name: string;
  version: string;
  /** The server's own database layer on the same database (migrations, compiling the server's SQL). */
  handle: DatabaseHandle;
  /** A bare pg.Pool of `poolSize` connections: baselines, checks, bulk loads. */
  pool: pg.Pool;
  bare: Bare;
  where: string;
  /** Server settings that weigh on the figures (the shared server's, left as they are). */
  settings: string;
}

/** Creates and migrates a throwaway bench_* database (dropped at clean-up); null when the server is unreachable. */
export async function createPostgres(adminUrl: string, poolSize: number): Promise<PostgresBackend | null> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
  } catch (error) {
    log(`PostgreSQL at ${adminUrl} is unreachable (${(error as Error).message}): skipping it.`);
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
  onCleanup(async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ databaseUrl: url.toString(), poolSize: 2 });
  onCleanup(() => handle.close());
  await migrate(handle.db);
  const pool = new pg.Pool({ connectionString: url.toString(), max: poolSize });
  pool.on('error', () => {});
  onCleanup(() => pool.end());
  const { rows: settings } = await pool.query<{ name: string; setting: string; unit: string | null }>(
    `SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'autovacuum', 'jit', 'work_mem', 'max_connections') ORDER BY name`,
  );
  const shown = settings.map((s) => `${s.name}=${s.unit === '8kB' ? `${Math.round((Number(s.setting) * 8) / 1024)}MB` : s.unit === 'kB' ? `${Math.round(Number(s.setting) / 1024)}MB` : s.setting}`).join(', ');
  const host = url.hostname === '127.0.0.1' || url.hostname === 'localhost' ? 'same machine' : url.hostname;
  return { url: url.toString(), name, version, handle, pool, bare: (text, params = []) => pool.query(text, params), where: host, settings: shown };
}

export function pgliteVersion(): string {
  const file = path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json');
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/**
 * Opens an embedded database exactly as the server does (openDatabase), keeping hold of the PGlite instance it
 * creates so that the baselines can query it directly. Closed at clean-up.
 */
export async function openPglite(dataDir: string): Promise<{ handle: DatabaseHandle; pglite: PGlite; bare: Bare }> {
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
  onCleanup(() => handle.close());
  if (!instance) throw new Error('openDatabase did not create its PGlite instance through PGlite.create; update bench/backends.ts');
  const pglite = instance;
  await migrate(handle.db);
  return { handle, pglite, bare: (text, params = []) => pglite.query(text, params) };
}
