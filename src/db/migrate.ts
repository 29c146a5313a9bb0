// Applies the numbered SQL files in migrations/ in order, each once, all pending ones in one transaction (a start that
// fails leaves the schema as it was). An advisory lock makes concurrent starters (several instances on one PostgreSQL)
// wait for each other instead of racing.
import fs from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { projectPath } from '../lib/paths.js';
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

export async function migrate(db: Kysely<Database>, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = fs
    .readdirSync(dir)
    .filter((name) => /^\d+_.*\.sql$/.test(name))
    .sort();
  const applied: string[] = [];
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
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
