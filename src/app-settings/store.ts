// The app_settings row (one: this server hosts one app): the settings this server honours, and the credentials
// generated on the embedded default.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Micros } from '../db/schema.js';

export interface StoredSettings {
  revoke_tokens_issued_before: Micros | null;
  guest_user_creation_disabled: boolean;
  enforce_unique_usernames: string;
  multi_tenant_enabled: boolean;
  webhook_url: string | null;
  webhook_events: string[];
  event_hooks: Array<Record<string, unknown>>;
}

/** The settings an app may change through PATCH /app, as stored. */
export const SETTING_COLUMNS = [
  'revoke_tokens_issued_before',
  'guest_user_creation_disabled',
  'enforce_unique_usernames',
  'multi_tenant_enabled',
  'webhook_url',
  'webhook_events',
  'event_hooks',
] as const;

export async function readSettingsRow(db: Db): Promise<StoredSettings | undefined> {
  return db
    .selectFrom('app_settings')
    .select(SETTING_COLUMNS)
    .where('id', '=', 1)
    .executeTakeFirst();
}

/** A change of settings, each value already validated; a date-time is RFC3339 text PostgreSQL reads as timestamptz. */
export interface SettingsChange {
  revoke_tokens_issued_before?: string | null;
  guest_user_creation_disabled?: boolean;
  enforce_unique_usernames?: string;
  multi_tenant_enabled?: boolean;
  webhook_url?: string | null;
  webhook_events?: string[];
  event_hooks?: Array<Record<string, unknown>>;
}

/** NOTIFY channel on which a settings change tells every instance to drop its cached settings. */
export const APP_SETTINGS_CHANNEL = 'stream_app_settings';

export async function writeSettings(db: Db, change: SettingsChange): Promise<void> {
  const values: Record<string, unknown> = { ...change };
  if (typeof change.revoke_tokens_issued_before === 'string') {
    values.revoke_tokens_issued_before = sql`${change.revoke_tokens_issued_before}::timestamptz`;
  }
  for (const key of ['webhook_events', 'event_hooks'] as const) {
    if (change[key] !== undefined) values[key] = sql`${JSON.stringify(change[key])}::jsonb`;
  }
  // An upsert: the row is made by the migrations, but a database restored without it must not answer 200 to a
  // change it silently dropped.
  await db
    .insertInto('app_settings')
    .values({ id: 1, ...values })
    .onConflict((oc) => oc.column('id').doUpdateSet(values))
    .execute();
  await sql`SELECT pg_notify(${APP_SETTINGS_CHANNEL}, '')`.execute(db);
}

/** The generated credentials, if any have been generated. */
export async function storedGeneratedCredentials(db: Db): Promise<{ apiKey: string; apiSecret: string } | undefined> {
  const row = await db.selectFrom('app_settings').select(['generated_api_key', 'generated_api_secret']).where('id', '=', 1).executeTakeFirst();
  return row?.generated_api_key && row.generated_api_secret ? { apiKey: row.generated_api_key, apiSecret: row.generated_api_secret } : undefined;
}

/**
 * The generated credentials, generating them the first time; `created` says whether this call made them. (Only the
 * embedded database generates credentials, and only one process opens it at a time.)
 */
export async function generatedCredentials(db: Db): Promise<{ apiKey: string; apiSecret: string; created: boolean }> {
  await db.insertInto('app_settings').values({ id: 1 }).onConflict((oc) => oc.column('id').doNothing()).execute();
  const existing = await storedGeneratedCredentials(db);
  if (existing) return { ...existing, created: false };
  const apiKey = randomBytes(6).toString('hex');
  const apiSecret = randomBytes(32).toString('base64url');
  await db.updateTable('app_settings').set({ generated_api_key: apiKey, generated_api_secret: apiSecret }).where('id', '=', 1).execute();
  return { apiKey, apiSecret, created: true };
}

/**
 * The key of tombstone hashes. The migrations make it; a settings row without one (restored from elsewhere) gets one
 * on first use (concurrent first uses agree on one).
 */
export async function tombstoneKey(db: Db): Promise<string> {
  const stored = await db.selectFrom('app_settings').select('tombstone_key').where('id', '=', 1).executeTakeFirst();
  if (stored?.tombstone_key) return stored.tombstone_key;
  await db.insertInto('app_settings').values({ id: 1 }).onConflict((oc) => oc.column('id').doNothing()).execute();
  const row = await db
    .updateTable('app_settings')
    .set((eb) => ({ tombstone_key: eb.fn.coalesce('tombstone_key', eb.val(randomBytes(32).toString('base64url'))) }))
    .where('id', '=', 1)
    .returning('tombstone_key')
    .executeTakeFirstOrThrow();
  return row.tombstone_key!;
}
