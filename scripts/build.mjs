// `npm run build`: bundles the server (src/server.ts and what it imports, dependencies included) into one ES module,
// dist/server.mjs, which `npm start` and the container run with plain node. Loading one file instead of a few
// hundred TypeScript and ESM modules through tsx is most of a warm start's time (see README, Benchmarks).
//
//   node scripts/build.mjs   build (scripts/start.mjs, which `npm start` runs, builds first when the bundle is stale)
//
// Kept outside the bundle: PGlite and Swagger UI, which load files that sit beside their own modules (the wasm
// engine, the UI's static assets), and pg-native, an optional driver this server does not use.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = path.join(root, 'dist', 'server.mjs');

function newestSourceMs() {
  let newest = 0;
  const visit = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
    }
  };
  visit(path.join(root, 'src'));
  for (const file of ['package-lock.json', 'scripts/build.mjs']) newest = Math.max(newest, fs.statSync(path.join(root, file)).mtimeMs);
  return newest;
}

/** Whether the bundle is missing or older than a source file, the lock file or this script. */
export function bundleIsStale() {
  return !fs.existsSync(BUNDLE) || fs.statSync(BUNDLE).mtimeMs < newestSourceMs();
}

export async function buildBundle() {
  const { build } = await import('esbuild');
  const started = performance.now();
  await build({
    entryPoints: [path.join(root, 'src', 'server.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    external: ['@electric-sql/pglite', '@fastify/swagger-ui', 'pg-native'],
    // Bundled CommonJS dependencies call require() for Node's built-in modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  console.error(`built ${path.relative(root, BUNDLE)} in ${Math.round(performance.now() - started)} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildBundle();
