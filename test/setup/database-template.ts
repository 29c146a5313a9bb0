// vitest global set-up: on the embedded engine, every test file's database starts from one migrated data folder made
// here, once per run, instead of running initdb and the migrations itself (initdb in WebAssembly is most of the cost
// of a fresh PGlite). The tarball's path reaches the test processes through the environment.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { PGLITE_TEMPLATE_ENV } from '../helpers/database.js';

export default async function makeDatabaseTemplate(): Promise<(() => void) | undefined> {
  if (process.env.DATABASE_URL) return undefined;
  const handle = await openDatabase({ dataDir: 'memory://' });
  try {
    await migrate(handle.db);
    const tarball = await handle.dumpDataDir!();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pglite-template-'));
    const file = path.join(dir, 'migrated.tar');
    fs.writeFileSync(file, Buffer.from(await tarball.arrayBuffer()));
    process.env[PGLITE_TEMPLATE_ENV] = file;
    return () => fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    await handle.close();
  }
}
