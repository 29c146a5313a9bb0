#!/usr/bin/env node
// `stream-users-server [options]` (`--help` lists them): the server, from an installed package (the bundle built when
// it was packed) or from a checkout (scripts/start.mjs rebuilds the bundle first when a source is newer).
import fs from 'node:fs';

const checkout = new URL('../scripts/build.mjs', import.meta.url);
await import(fs.existsSync(checkout) ? '../scripts/start.mjs' : '../dist/server.mjs');
