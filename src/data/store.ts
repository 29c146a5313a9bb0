// Emptying the data (DELETE /operator/data): every table of the schema but the few that hold the server's own state.
import { sql } from 'kysely';
import { notifyAfterCommit } from '../db/notify.js';
import type { Tx } from '../db/schema.js';
import { APP_SETTINGS_CHANNEL, SETTING_COLUMNS } from '../app-settings/store.js';

/**
 * Tables a clear keeps: the migrations applied, the app's row (its credentials and the tombstone key; its settings
 * are reset on request), and the dashboard's sign-outs (clearing them would bring signed-out sessions back).
 * Every other table is data and is emptied, including tables that later migrations add.
 */
export const KEPT_TABLES: ReadonlySet<string> = new Set(['schema_migrations', 'app_settings', 'dashboard_sign_outs']);

/**
 * The tables a clear empties: every table of the current schema not in KEPT_TABLES, `users` first. TRUNCATE locks
 * them in this order, and writes lock users before the outbox and tasks (db/locks.ts), so a clear takes its locks in
 * the order requests do.
 */
export async function dataTables(trx: Tx): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename <> 'users', tablename`.execute(trx);
  return rows.map((row) => row.name).filter((name) => !KEPT_TABLES.has(name));
}

/** Empties `tables` in one statement (names from dataTables, quoted as identifiers). */
export async function truncateTables(trx: Tx, tables: readonly string[]): Promise<void> {
  if (tables.length === 0) return;
  await sql`TRUNCATE ${sql.join(tables.map((name) => sql.id(name)))} RESTART IDENTITY`.execute(trx);
}

/** Puts the app's settings back to their defaults (the columns' own), keeping credentials and keys. */
export async function resetSettings(trx: Tx): Promise<void> {
  await sql`UPDATE app_settings SET ${sql.join(SETTING_COLUMNS.map((column) => sql`${sql.id(column)} = DEFAULT`))}`.execute(trx);
  // Other instances drop their cached settings once this commits.
  await notifyAfterCommit(trx, APP_SETTINGS_CHANNEL);
}
