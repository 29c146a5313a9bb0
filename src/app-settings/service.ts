// The app's settings this server honours: token revocation for the whole app, guest creation, unique usernames,
// multi-tenancy. One row (app_settings.id = 1), read on each request that depends on it so that every instance
// applies a change at once.
import { sql, type Kysely } from 'kysely';
import type { Database, Micros } from '../db/schema.js';
import { requestTimeToSql } from '../db/timestamps.js';
import { inputError } from '../http/errors.js';

export type UniqueUsernames = 'no' | 'app' | 'team';

export interface AppSettings {
  revoke_tokens_issued_before: Micros | null;
  guest_user_creation_disabled: boolean;
  enforce_unique_usernames: UniqueUsernames;
  multi_tenant_enabled: boolean;
}

export async function getAppSettings(db: Kysely<Database>): Promise<AppSettings> {
  const row = await db
    .selectFrom('app_settings')
    .select(['revoke_tokens_issued_before', 'guest_user_creation_disabled', 'enforce_unique_usernames', 'multi_tenant_enabled'])
    .where('id', '=', 1)
    .executeTakeFirst();
  return {
    revoke_tokens_issued_before: row?.revoke_tokens_issued_before ?? null,
    guest_user_creation_disabled: row?.guest_user_creation_disabled ?? false,
    enforce_unique_usernames: (row?.enforce_unique_usernames ?? 'no') as UniqueUsernames,
    multi_tenant_enabled: row?.multi_tenant_enabled ?? false,
  };
}

const SETTABLE = new Set(['revoke_tokens_issued_before', 'guest_user_creation_disabled', 'enforce_unique_usernames', 'multi_tenant_enabled']);

/** Applies a PATCH /app body. Settings this server does not implement are refused rather than silently dropped. */
export async function updateAppSettings(db: Kysely<Database>, patch: Record<string, unknown>): Promise<void> {
  const changes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (!SETTABLE.has(key)) throw inputError(`app setting "${key}" is not supported by this server`);
    switch (key) {
      case 'revoke_tokens_issued_before': {
        if (value === null) {
          changes[key] = null;
          break;
        }
        const time = requestTimeToSql(value);
        if (time === undefined) throw inputError('revoke_tokens_issued_before must be an RFC3339 date-time or null');
        changes[key] = sql`${time}::timestamptz`;
        break;
      }
      case 'enforce_unique_usernames':
        if (value !== 'no' && value !== 'app' && value !== 'team') throw inputError('enforce_unique_usernames must be one of [no app team]');
        changes[key] = value;
        break;
      default:
        if (typeof value !== 'boolean') throw inputError(`${key} must be a boolean`);
        changes[key] = value;
    }
  }
  if (Object.keys(changes).length === 0) return;
  // An upsert: the row is made when the server starts (resolveCredentials), but an app built without that step
  // (buildApp alone, as tests and embedders do) must not answer 200 to a change it silently dropped.
  await db
    .insertInto('app_settings')
    .values({ id: 1, ...changes })
    .onConflict((oc) => oc.column('id').doUpdateSet(changes))
    .execute();
}

/**
 * The settings as hot paths read them: kept for up to a second, and dropped at once when this process changes them.
 * A change made through another instance reaches this one within that second.
 */
export class AppSettingsCache {
  private cached: { settings: AppSettings; at: number } | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly ttlMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Never call inside a transaction of the same database: on PGlite that waits forever (one connection). */
  async get(): Promise<AppSettings> {
    const cached = this.cached;
    if (cached && this.now() - cached.at < this.ttlMs) return cached.settings;
    const settings = await getAppSettings(this.db);
    this.cached = { settings, at: this.now() };
    return settings;
  }

  async update(patch: Record<string, unknown>): Promise<void> {
    this.cached = undefined;
    await updateAppSettings(this.db, patch);
    this.cached = undefined;
  }
}
