// vitest global set-up: the bundle (dist/, scripts/build.mjs) is built once before any test runs, when stale, so that
// the tests that start `npm start`, the command or the packed package never rebuild it while another one loads it.
import { bundleIsStale, buildBundle } from '../../scripts/build.mjs';

export default async function buildBundleOnce(): Promise<void> {
  if (bundleIsStale()) await buildBundle();
}
