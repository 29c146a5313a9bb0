// `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database in DATA_DIR.
import { loadConfig } from '../config.js';
import { openDatabase } from './database.js';
import { migrate } from './migrate.js';

const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  const applied = await migrate(database.db, {
    lockWaitMs: config.migrationLockWaitMs,
    onWaiting: (waitedMs) => console.log(`waiting for another instance's migrations (the migration lock), ${Math.round(waitedMs / 1000)} s so far`),
  });
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'nothing to apply: the schema is up to date');
} finally {
  await database.close();
}
