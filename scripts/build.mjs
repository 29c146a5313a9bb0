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
/** The package's entry point (startServer), built beside the server; both share chunks of code. */
export const LIBRARY = path.join(root, 'dist', 'index.mjs');

function newestSourceMs() {
  let newest = 0;
  const visit = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith('.ts') || entry.name.endsWith('.sql')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
    }
  };
  visit(path.join(root, 'src'));
  visit(path.join(root, 'migrations'));
  for (const file of ['package-lock.json', 'scripts/build.mjs']) newest = Math.max(newest, fs.statSync(path.join(root, file)).mtimeMs);
  return newest;
}

/** Whether the bundle is missing or older than a source file, the lock file or this script. */
export function bundleIsStale() {
  const newest = newestSourceMs();
  return [BUNDLE, LIBRARY, path.join(root, 'dist', 'pglite-template.tar')].some((file) => !fs.existsSync(file) || fs.statSync(file).mtimeMs < newest);
}

export async function buildBundle() {
  const { build } = await import('esbuild');
  const started = performance.now();
  await build({
    entryPoints: ['server.ts', 'index.ts', 'db/make-template.ts'].map((entry) => path.join(root, 'src', entry)),
    outdir: path.dirname(BUNDLE),
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    splitting: true,
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
  // The migrated embedded database new ones start from (src/db/make-template.ts).
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [path.join(root, 'dist', 'make-template.mjs')], { stdio: 'inherit' });
  console.error(`built ${path.relative(root, BUNDLE)}, ${path.relative(root, LIBRARY)} and the embedded template in ${Math.round(performance.now() - started)} ms`);
}

/**
 * dist/index.d.ts, the package's types: src/index.ts's declarations, which stand alone (its public types import
 * nothing). For `npm pack` (prepack), where the dev dependencies are installed. `check: false` emits the same
 * declarations without type-checking the sources (a third of the time: the package test's use, in a run whose
 * typecheck step has checked them).
 */
export async function buildTypes({ check = true } = {}) {
  const { execFileSync } = await import('node:child_process');
  const out = fs.mkdtempSync(path.join(root, 'dist', '.types-'));
  try {
    execFileSync(process.execPath, [
      path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      path.join(root, 'src', 'index.ts'),
      ...['--declaration', '--emitDeclarationOnly', ...(check ? [] : ['--noCheck']), '--outDir', out, '--rootDir', path.join(root, 'src')],
      ...['--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict', '--skipLibCheck', '--esModuleInterop', '--resolveJsonModule', '--types', 'node'],
    ], { stdio: 'inherit' });
    const declarations = fs.readFileSync(path.join(out, 'index.d.ts'), 'utf8');
    if (/^\s*(import\b|export \* from|export \{[^}]*\} from)/m.test(declarations)) throw new Error('src/index.ts\'s public types must not import other modules');
    fs.writeFileSync(path.join(root, 'dist', 'index.d.ts'), declarations);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildBundle();
  if (process.argv.includes('--types')) await buildTypes();
}
