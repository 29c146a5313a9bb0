import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// vitest 5's reporter calls Map.groupBy, which Node 20 lacks (Node 22 has it): without this, a failing test
// crashes the reporter instead of being reported.
if (typeof (Map as { groupBy?: unknown }).groupBy !== 'function') {
  Object.defineProperty(Map, 'groupBy', {
    value<K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, V[]> {
      const groups = new Map<K, V[]>();
      let index = 0;
      for (const item of items) {
        const k = key(item, index++);
        const group = groups.get(k);
        if (group) group.push(item);
        else groups.set(k, [item]);
      }
      return groups;
    },
  });
}

if (typeof (Object as { groupBy?: unknown }).groupBy !== 'function') {
  Object.defineProperty(Object, 'groupBy', {
    value<V>(items: Iterable<V>, key: (item: V, index: number) => PropertyKey): Record<PropertyKey, V[]> {
      const groups: Record<PropertyKey, V[]> = Object.create(null);
      let index = 0;
      for (const item of items) (groups[key(item, index++)] ??= []).push(item);
      return groups;
    },
  });
}

/**
 * Test files marked `// backend-independent: <why>` do not use the database under test (DATABASE_URL): pure logic,
 * documents, the embedded engine's own processes and files. They run in the embedded pass; a run on PostgreSQL
 * (DATABASE_URL set, as .ci/run's second pass) leaves them out, since it would repeat them unchanged.
 */
function backendIndependentFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).flatMap((entry) => {
    if (!entry.isFile() || !entry.name.endsWith('.test.ts')) return [];
    const file = path.join(entry.parentPath, entry.name);
    return /^\/\/ backend-independent: /m.test(fs.readFileSync(file, 'utf8')) ? [file] : [];
  });
}

/**
 * The files that take longest, started first (in this order, by their time in a CI run of either pass, measured on
 * 2026-12-05), so that no long one starts last and runs alone: on a fresh clone vitest has no timings of its own, and
 * orders by file size, which would put the fuzz shards (small files) at the very end, and the PostgreSQL-only files
 * (skipped on the embedded pass) after everything else. The rest follow in vitest's order (its timings of the last
 * run, or size). A new file of more than ~8 s belongs here.
 */
const SLOW_FIRST = [
  'test/fuzz/',
  'test/dashboard/browser.test.ts',
  'test/webhooks/delivery.test.ts',
  'test/import/file.test.ts',
  'test/import/from-api.test.ts',
  'test/tasks/crash.test.ts',
  'test/server/shutdown.test.ts',
  'test/connect/limits.test.ts',
  'test/data/snapshot.test.ts',
  'test/auth/token-cli.test.ts',
  'test/webhooks/processes.test.ts',
  'test/package/package.test.ts',
  'test/readme/walkthrough.test.ts',
  'test/tasks/order.test.ts',
  'test/server/start.test.ts',
  'test/db/lock.test.ts',
  'test/server/npm-start.test.ts',
  'test/users/filter.test.ts',
  'test/api/docs.test.ts',
  'test/db/outage.test.ts',
  'test/rate-limits/locked-counter.test.ts',
  'test/server/log-reader-gone.test.ts',
  'test/db/migration-lock.test.ts',
  'test/webhooks/steering.test.ts',
  'test/rate-limits/buckets.test.ts',
  'test/http/envelope.test.ts',
  'test/connect/connect.test.ts',
  'test/dashboard/pages.test.ts',
  'test/db/fatal.test.ts',
  'test/tasks/worker.test.ts',
];

class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const file = path.relative(spec.project.config.root, spec.moduleId).split(path.sep).join('/');
      const index = SLOW_FIRST.findIndex((prefix) => file.startsWith(prefix));
      return index === -1 ? SLOW_FIRST.length : index;
    };
    return sorted.map((spec, order) => ({ spec, order, rank: rank(spec) })).sort((a, b) => a.rank - b.rank || a.order - b.order).map(({ spec }) => spec);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: process.env.DATABASE_URL ? backendIndependentFiles('test') : [],
    globalSetup: ['test/setup/chromium.ts', 'test/setup/bundle.ts', 'test/setup/database-template.ts'],
    pool: 'forks',
    // The files a worker runs share its loaded modules: loading the server's modules afresh for each file was a third
    // of the embedded pass's CPU. No test file mocks modules or changes the environment others read.
    isolate: false,
    // Most test files wait on I/O (servers, child processes, sockets) more than they compute: three at a time on a
    // 2-core machine (vitest's default there is one) keeps both cores busy. TEST_WORKERS overrides.
    maxWorkers: Number(process.env.TEST_WORKERS) || 3,
    sequence: { sequencer: SlowFirstSequencer },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
