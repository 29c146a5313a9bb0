// The layering the README's Architecture section promises, checked on the source text: SQL only in the data layer
// (src/db/ and the store modules), transactions opened only by services (and the task store), and routes, the
// WebSocket hub, task handlers and the dashboard's pages calling services rather than stores.
// backend-independent: reads the source text.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full).split(path.sep).join('/')] : [];
  });
}

const files = sourceFiles(SRC).map((file) => ({ file, text: fs.readFileSync(path.join(SRC, file), 'utf8') }));

const isDataLayer = (file: string) => file.startsWith('db/') || file.endsWith('/store.ts') || file.includes('/store/');
const isService = (file: string) => file.endsWith('/service.ts');

/** Uses of the database handle that build SQL: the sql template and the query builder. */
const SQL_USE = /import\s*\{[^}]*\bsql\b[^}]*\}\s*from\s*'kysely'|\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(/;

describe('architecture', () => {
  it('finds the source files', () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it('writes SQL only in the data layer (src/db/, store.ts, store/)', () => {
    const offenders = files.filter(({ file, text }) => !isDataLayer(file) && SQL_USE.test(text)).map(({ file }) => file);
    expect(offenders).toEqual([]);
  });

  it('opens transactions only in services and the data layer', () => {
    const offenders = files
      .filter(({ file, text }) => !isDataLayer(file) && !isService(file) && /\.transaction\(\)/.test(text))
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });

  it('lets routes, the WebSocket hub and task handlers reach the data only through services', () => {
    const callers = files.filter(
      ({ file }) =>
        file.startsWith('api/') ||
        /^connect\/(hub|handshake|plugin)\.ts$/.test(file) ||
        file === 'tasks/handlers.ts' ||
        file.endsWith('/routes.ts') ||
        // The operator dashboard: its pages call services in-process, like routes (its own service excepted).
        (file.startsWith('dashboard/') && !isService(file)),
    );
    expect(callers.length).toBeGreaterThan(4);
    const offenders = callers
      // Types may come from anywhere; values (functions that run SQL) only from services.
      .filter(({ text }) => /^import (?!type )[^;]*from '[^']*\bstore(\/[^']*)?\.js'/m.test(text))
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });
});
