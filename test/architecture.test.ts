// The layering the README's Architecture section promises, checked on the source text: SQL only in the data layer
// (src/db/ and the store modules), transactions opened only by services (and the task store), and routes, the
// WebSocket hub, task handlers and the dashboard's pages calling services rather than stores.
// backend-independent: reads the source text.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { operations } from '../src/api/operations.js';
import { TASK_TYPE_NAMES } from '../src/tasks/table.js';

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

  it('imports without cycles (type-only imports aside, which are erased)', () => {
    const imports = new Map(
      files.map(({ file, text }) => [
        file,
        [...text.matchAll(/^import (?!type )[^;]*?from '(\.[^']*)\.js';/gms)].map((match) =>
          path.posix.normalize(path.posix.join(path.posix.dirname(file), `${match[1]}.ts`)),
        ),
      ]),
    );
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of imports.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    // The task table imports the runners, and the dashboard's plugin its pages (which share dashboard/page-kit.ts, not
    // the plugin): nothing they import may import them back.
    for (const file of imports.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('names task types only in the task table: elsewhere a type is enqueued by name (checked by TaskType) or read from the table', () => {
    expect(TASK_TYPE_NAMES.length).toBeGreaterThan(3);
    const typeLiteral = new RegExp(`'(${TASK_TYPE_NAMES.join('|')})'`, 'g');
    // An operation of the same name (api/operations.ts) and the dashboard's operation names are operations, not task types.
    const operationName = new RegExp(`(name|operation): '(${TASK_TYPE_NAMES.join('|')})'`, 'g');
    const offenders = files
      .filter(({ file }) => file !== 'tasks/table.ts')
      .flatMap(({ file, text }) =>
        [...text.replace(/\benqueueTask\(\s*\w+,\s*'\w+'/g, '').replace(operationName, '').matchAll(typeLiteral)].map((match) => `${file}: ${match[0]}`),
      );
    expect(offenders).toEqual([]);
  });

  it('lets enqueueTask take only the task table\'s types, and builds the task handlers from the table', () => {
    const store = files.find(({ file }) => file === 'tasks/store.ts')!.text;
    expect(store).toMatch(/import type \{ TaskType \} from '\.\/table\.js'/);
    expect(store).toMatch(/export async function enqueueTask\(\s*trx: Tx,\s*type: TaskType,/);
    expect(store).not.toMatch(/type TaskType =/);
    const handlers = files.find(({ file }) => file === 'tasks/handlers.ts')!.text;
    expect(handlers).toMatch(/from '\.\/table\.js'/);
    expect(handlers).not.toMatch(/from '\.\.\/(lifecycle|exports)\//);
  });

  it('registers the API routes only from the operation table', () => {
    expect(operations.length).toBeGreaterThan(20);
    // Routes of operations are rendered by api/routes.ts; the other route files serve what is not an operation
    // (downloads, the import endpoint, snapshots, the dashboard) and register no path of one.
    const operationPaths = new Set(operations.flatMap((op) => [op.v2?.path, op.v1?.path].filter((p): p is string => p !== undefined)));
    const offenders = files
      .filter(({ file }) => file !== 'api/routes.ts')
      .flatMap(({ file, text }) =>
        [...text.matchAll(/\.(?:get|post|put|patch|delete|route)\(\s*(?:\{[^}]*?url:\s*)?'([^']+)'/g)]
          .filter((match) => operationPaths.has(match[1]!))
          .map((match) => `${file}: ${match[1]}`),
      );
    expect(offenders).toEqual([]);
  });

  it('keeps the process entry point small: server.ts only reads flags, starts the runtime, prints and handles signals', () => {
    const server = files.find(({ file }) => file === 'server.ts')!.text;
    expect(server.split('\n').length).toBeLessThan(80);
    expect(server).toMatch(/createRuntime\(/);
  });
});
