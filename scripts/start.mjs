// `npm start`: runs the bundled server (dist/server.mjs) in this process, bundling it first when a source file is
// newer than the bundle, so that a checkout that was just edited or pulled never runs stale code.
import { buildBundle, bundleIsStale, BUNDLE } from './build.mjs';
import { pathToFileURL } from 'node:url';

if (bundleIsStale()) await buildBundle();
await import(pathToFileURL(BUNDLE).href);
