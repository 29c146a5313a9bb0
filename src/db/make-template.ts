// Built with the bundle (scripts/build.mjs): an embedded database with every migration applied, dumped to
// dist/pglite-template.tar.gz. A start in memory, or on an empty data folder, loads it instead of running initdb and
// the migrations (most of a first start's time); migrate() then applies any migration newer than the template.
import fs from 'node:fs';
import { openDatabase } from './database.js';
import { migrate } from './migrate.js';
import { PGLITE_TEMPLATE } from './template.js';

const handle = await openDatabase({ dataDir: 'memory' });
try {
  await migrate(handle.db);
  const tarball = await handle.dumpDataDir!('gzip');
  fs.writeFileSync(PGLITE_TEMPLATE, Buffer.from(await tarball.arrayBuffer()));
} finally {
  await handle.close();
}
