import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

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

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: process.env.DATABASE_URL ? backendIndependentFiles('test') : [],
    globalSetup: ['test/setup/chromium.ts', 'test/setup/database-template.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
