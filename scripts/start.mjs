// `npm start`: runs the bundled server (dist/server.mjs) in this process, bundling it first when a source file is
// newer than the bundle, so that a checkout that was just edited or pulled never runs stale code.
//
// Signals: package.json's "start" is `exec node …`, so that npm's child is this process itself, not a shell: npm passes
// SIGTERM and SIGINT on to its child, and a shell in between would die of them without passing them on, leaving the
// server serving as an orphan. Should npm still go away without a word (killed outright), the server is told to
// shut down as if it had been sent SIGTERM: it is no longer under the supervision it was started by.
import { buildBundle, bundleIsStale, BUNDLE } from './build.mjs';
import { pathToFileURL } from 'node:url';

if (process.env.npm_lifecycle_event) {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  watch.unref();
}

if (bundleIsStale()) await buildBundle();
await import(pathToFileURL(BUNDLE).href);
