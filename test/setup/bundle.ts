// vitest global set-up: the bundle (dist/, scripts/build.mjs) is built once before any test runs, when stale, so that
// the tests that start `npm start`, the command or the packed package never rebuild it while another one loads it.
// And the entry points the tests run as processes of their own (the import and token CLIs, the fixtures) are bundled
// likewise, for the tests only (test/helpers/process.ts: TEST_BUNDLES): one module to load instead of a few hundred
// through tsx's loader.
import { build } from 'esbuild';
import { bundleIsStale, buildBundle } from '../../scripts/build.mjs';
import { ROOT, TEST_BUNDLE_DIR, TEST_BUNDLES } from '../helpers/process.js';

export default async function buildBundleOnce(): Promise<void> {
  await Promise.all([bundleIsStale() ? buildBundle() : undefined, buildTestBundles()]);
}

async function buildTestBundles(): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: TEST_BUNDLES,
    outdir: TEST_BUNDLE_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // Dependencies load from node_modules, as they do under tsx; the bundle sits inside the project (its root and
    // node_modules are found from there).
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}
