// Applies the numbered SQL files in migrations/ in order, each once, all pending ones in one transaction (a start that
// fails leaves the schema as it was). An advisory lock makes concurrent starters (several instances on one PostgreSQL)
// wait for each other instead of racing: up to MIGRATION_LOCK_WAIT_MS, logging while they wait.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { projectPath } from '../lib/paths.js';
import { inTransactionWithoutTimeout } from './database.js';
import type { Database } from './schema.js';

export const MIGRATIONS_DIR = projectPath('migrations');

const MIGRATION_LOCK_KEY = 7_301_955_021;

/**
 * Splits a migration file into statements: a statement ends with a semicolon at the end of a line, outside a
 * dollar-quoted body. (Both drivers send one statement per query when parameters may be present.)
 */
export function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  let inDollarQuote = false;
  for (const line of text.split('\n')) {
    const dollars = line.match(/\$\$/g)?.length ?? 0;
    if (dollars % 2 === 1) inDollarQuote = !inDollarQuote;
    if (current.length === 0 && /^\s*(--.*)?$/.test(line)) continue;
    current.push(line);
    if (!inDollarQuote && /;\s*(--.*)?$/.test(line)) {
      statements.push(current.join('\n').trim());
      current = [];
    }
  }
  if (current.join('').trim() !== '') statements.push(current.join('\n').trim());
  return statements;
}

export interface MigrateOptions {
  dir?: string;
  /** How long to wait for another instance's migrations (the lock) before giving up. Default 5 minutes. */
  lockWaitMs?: number;
  /** Told while waiting for the lock, about every `logEveryMs`. */
  onWaiting?: (waitedMs: number) => void;
  logEveryMs?: number;
}

/** Another instance held the migration lock longer than MIGRATION_LOCK_WAIT_MS. */
export class MigrationLockTimeout extends Error {}

const LOCK_POLL_MS = 250;

/**
 * Applies the pending migrations. They run without the requests' statement_timeout (server- and client-side: an
 * index built on a large table may take long), after waiting for the migration lock up to `lockWaitMs`.
 */
export async function migrate(db: Kysely<Database>, options: MigrateOptions | string = {}): Promise<string[]> {
  const { dir = MIGRATIONS_DIR, lockWaitMs = 5 * 60_000, onWaiting, logEveryMs = 10_000 } = typeof options === 'string' ? { dir: options } : options;
  const files = fs
    .readdirSync(dir)
    .filter((name) => /^\d+_.*\.sql$/.test(name))
    .sort();
  const applied: string[] = [];
  await inTransactionWithoutTimeout(db, async (trx) => {
    // Another instance migrating holds the lock: wait for it (polling, so that the wait is bounded and logged).
    const started = Date.now();
    let lastLog = started - logEveryMs; // the first wait is logged at once
    while (!(await sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(${MIGRATION_LOCK_KEY}) AS locked`.execute(trx)).rows[0]!.locked) {
      const waited = Date.now() - started;
      if (waited >= lockWaitMs) {
        throw new MigrationLockTimeout(
          `another instance has held the migration lock for ${Math.round(waited / 1000)} s (MIGRATION_LOCK_WAIT_MS is ${lockWaitMs}); giving up`,
        );
      }
      if (Date.now() - lastLog >= logEveryMs) {
        lastLog = Date.now();
        onWaiting?.(waited);
      }
      await sleep(Math.min(LOCK_POLL_MS, lockWaitMs - waited));
    }
    await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`.execute(trx);
    const done = new Set((await trx.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version));
    for (const file of files) {
      if (done.has(file)) continue;
      for (const statement of splitStatements(fs.readFileSync(path.join(dir, file), 'utf8'))) {
        await sql.raw(statement).execute(trx);
      }
      await trx.insertInto('schema_migrations').values({ version: file }).execute();
      applied.push(file);
    }
  });
  return applied;
}
