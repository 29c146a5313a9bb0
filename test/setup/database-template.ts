// vitest global set-up: every test file's database starts from one migrated template instead of running the
// migrations itself. On the embedded engine, the bundle's (dist/pglite-template.tar, which test/setup/bundle.ts, run
// just before, keeps fresh; test/helpers/database.ts loads it), instead of a second initdb and migration run (6 s). On
// PostgreSQL (DATABASE_URL), a migrated `test_template_*` database made here, once per run, that test databases are
// created from (CREATE DATABASE … TEMPLATE), dropped at the end (and, should the run die first, by .ci/run's clean-up
// of `test_*` databases).
import fs from 'node:fs';
import { openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { PGLITE_TEMPLATE } from '../../src/db/template.js';
import { adminQuery, PG_TEMPLATE_ENV, testDatabaseName, withDatabase } from '../helpers/database.js';

export default async function makeDatabaseTemplate(): Promise<(() => void) | undefined> {
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl) return makePostgresTemplate(adminUrl);
  if (!fs.existsSync(PGLITE_TEMPLATE)) throw new Error(`${PGLITE_TEMPLATE} is missing: test/setup/bundle.ts should have built it`);
  return undefined;
}

async function makePostgresTemplate(adminUrl: string): Promise<() => Promise<void>> {
  const name = testDatabaseName('template_');
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const drop = () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  try {
    // Closed before any copy: CREATE DATABASE … TEMPLATE refuses a template anyone is connected to.
    const handle = await openDatabase({ databaseUrl: withDatabase(adminUrl, name), poolSize: 1 });
    try {
      await migrate(handle.db);
    } finally {
      await handle.close();
    }
  } catch (error) {
    await drop().catch(() => {});
    throw error;
  }
  process.env[PG_TEMPLATE_ENV] = name;
  return async () => {
    delete process.env[PG_TEMPLATE_ENV];
    await drop();
  };
}
