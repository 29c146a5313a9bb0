// A fresh, migrated database for one test file: an in-memory PGlite by default, or a throwaway database on the
// PostgreSQL server named by DATABASE_URL (created here, dropped by `drop`).
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, type RawBuilder } from 'kysely';
import pg from 'pg';
import { inTransactionWithoutTimeout, openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import { migrate } from '../../src/db/migrate.js';
import { pgliteTemplate } from '../../src/db/template.js';

export interface TestDatabase extends DatabaseHandle {
  /** Connection string of this test database (PostgreSQL only). */
  url?: string;
  /** Closes the handle and drops the database. */
  drop(): Promise<void>;
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Names the migrated PostgreSQL database that test/setup/database-template.ts makes once per run (a `test_*` one). */
export const PG_TEMPLATE_ENV = 'TEST_PG_TEMPLATE';

/** A throwaway database's name: `test_*`, as .ci/run's clean-up expects of what a run leaves behind. */
export function testDatabaseName(kind = ''): string {
  return `test_${kind}${Date.now()}_${randomBytes(4).toString('hex')}`;
}

/** The adminUrl server's `sql`, on a connection of its own. */
export async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(text);
  } finally {
    await admin.end();
  }
}

let template: Blob | undefined;

/**
 * The bundle's migrated template (dist/pglite-template.tar, which test/setup/bundle.ts keeps fresh), read once per test
 * process; undefined before any build (a helper used outside vitest).
 */
export function migratedTemplate(): Blob | undefined {
  template ??= pgliteTemplate();
  return template;
}

/**
 * A bare embedded engine on the server's whole schema, without the server's handle around it: for tests of SQL on
 * PGlite itself. Loaded from the migrated template; migrated in full when there is none.
 */
export async function migratedPglite(): Promise<PGlite> {
  const loadDataDir = migratedTemplate();
  const pglite = await PGlite.create(loadDataDir ? { loadDataDir } : {});
  // Not destroyed afterwards: destroying the Kysely instance would close the engine.
  await migrate(new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) }));
  return pglite;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const handle = await openDatabase({ dataDir: 'memory://', loadDataDir: migratedTemplate() });
    // A no-op on the template; the whole migration when there is none (a helper used outside vitest).
    await migrate(handle.db);
    return { ...handle, drop: () => handle.close() };
  }
  const name = testDatabaseName();
  // A copy of the run's migrated template when there is one (a file copy: far cheaper than the migrations).
  const template = process.env[PG_TEMPLATE_ENV];
  await adminQuery(adminUrl, template ? `CREATE DATABASE ${name} TEMPLATE ${template}` : `CREATE DATABASE ${name}`);
  const url = withDatabase(adminUrl, name);
  const handle = await openDatabase({ databaseUrl: url, poolSize: 10 });
  // A no-op on the template's copy; the whole migration when there is none.
  await migrate(handle.db);
  return {
    ...handle,
    url,
    async drop() {
      await handle.close();
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * Runs a test's bulk seed (tens of thousands of rows through the users triggers) without the pool's 5 s
 * statement_timeout, which a loaded CI machine can exceed. What it seeds commits at the end, as one statement would.
 */
export async function seedWithoutTimeout(db: Kysely<Database>, statement: RawBuilder<unknown>): Promise<void> {
  await inTransactionWithoutTimeout(db, (trx) => statement.execute(trx));
}
