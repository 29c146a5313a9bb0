// A fresh, migrated database for one test file: an in-memory PGlite by default, or a throwaway database on the
// PostgreSQL server named by DATABASE_URL (created here, dropped by `drop`).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';

export interface TestDatabase extends DatabaseHandle {
  /** Connection string of this test database (PostgreSQL only). */
  url?: string;
  /** Closes the handle and drops the database. */
  drop(): Promise<void>;
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Names the migrated PGlite data folder (a tarball) that test/setup/database-template.ts makes once per run. */
export const PGLITE_TEMPLATE_ENV = 'TEST_PGLITE_TEMPLATE';

let template: Blob | undefined;

/** The run's migrated template, read once per test process; undefined outside vitest's global set-up. */
function pgliteTemplate(): Blob | undefined {
  const file = process.env[PGLITE_TEMPLATE_ENV];
  if (!file || !fs.existsSync(file)) return undefined;
  template ??= new Blob([fs.readFileSync(file)]);
  return template;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const handle = await openDatabase({ dataDir: 'memory://', loadDataDir: pgliteTemplate() });
    // A no-op on the template; the whole migration when there is none (a helper used outside vitest).
    await migrate(handle.db);
    return { ...handle, drop: () => handle.close() };
  }
  const name = `test_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const handle = await openDatabase({ databaseUrl: url, poolSize: 10 });
  await migrate(handle.db);
  return {
    ...handle,
    url,
    async drop() {
      await handle.close();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
