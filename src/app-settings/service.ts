// The app's settings this server honours: token revocation for the whole app, guest creation, unique usernames,
// multi-tenancy. Hot paths read them through AppSettingsCache (kept for up to a second).
import type { Db, Micros } from '../db/schema.js';
import { microsToRfc3339, nowMicros, requestTimeToSql } from '../db/timestamps.js';
import { inputError } from '../http/errors.js';
import { checkEventHooks, checkWebhookEvents, checkWebhookUrl, type StoredHook } from '../webhooks/config.js';
import { applyHookChanges } from '../webhooks/service.js';
import { APP_SETTINGS_CHANNEL, SETTING_COLUMNS, readSettingsRow, writeSettings, type SettingsChange } from './store.js';

export type UniqueUsernames = 'no' | 'app' | 'team';

export interface AppSettings {
  revoke_tokens_issued_before: Micros | null;
  guest_user_creation_disabled: boolean;
  enforce_unique_usernames: UniqueUsernames;
  multi_tenant_enabled: boolean;
  webhook_url: string | null;
  webhook_events: string[];
  event_hooks: StoredHook[];
}

async function readSettings(db: Db): Promise<AppSettings> {
  const row = await readSettingsRow(db);
  return {
    revoke_tokens_issued_before: row?.revoke_tokens_issued_before ?? null,
    guest_user_creation_disabled: row?.guest_user_creation_disabled ?? false,
    enforce_unique_usernames: (row?.enforce_unique_usernames ?? 'no') as UniqueUsernames,
    multi_tenant_enabled: row?.multi_tenant_enabled ?? false,
    webhook_url: row?.webhook_url ?? null,
    webhook_events: row?.webhook_events ?? [],
    event_hooks: (row?.event_hooks ?? []) as StoredHook[],
  };
}

const SETTABLE = new Set<string>(SETTING_COLUMNS);

/** Validates a PATCH /app body. Settings this server does not implement are refused rather than silently dropped. */
function settingsChange(patch: Record<string, unknown>, stored: AppSettings): SettingsChange {
  const change: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (!SETTABLE.has(key)) throw inputError(`app setting "${key}" is not supported by this server`);
    switch (key) {
      case 'webhook_url':
        change[key] = checkWebhookUrl(value);
        break;
      case 'webhook_events':
        change[key] = checkWebhookEvents(value);
        break;
      case 'event_hooks':
        change[key] = checkEventHooks(value, stored.event_hooks, microsToRfc3339(nowMicros()));
        break;
      case 'revoke_tokens_issued_before': {
        if (value === null) {
          change[key] = null;
          break;
        }
        const time = requestTimeToSql(value);
        if (time === undefined) throw inputError('revoke_tokens_issued_before must be an RFC3339 date-time or null');
        change[key] = time;
        break;
      }
      case 'enforce_unique_usernames':
        if (value !== 'no' && value !== 'app' && value !== 'team') throw inputError('enforce_unique_usernames must be one of [no app team]');
        change[key] = value;
        break;
      default:
        if (typeof value !== 'boolean') throw inputError(`${key} must be a boolean`);
        change[key] = value;
    }
  }
  return change as SettingsChange;
}

/**
 * The settings as hot paths read them: kept for up to a second, and dropped at once when this process changes them.
 * A change made through another instance reaches this one within that second.
 */
export class AppSettingsCache {
  private cached: { settings: AppSettings; at: number } | undefined;
  /** Counts invalidations: a read that overlapped one is not kept. */
  private generation = 0;

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Never call inside a transaction of the same database: on PGlite that waits forever (one connection). */
  get(): Promise<AppSettings> {
    return this.current(this.db);
  }

  /** The settings as stored now, read through `db` (a transaction's handle inside one). */
  read(db: Db): Promise<AppSettings> {
    return readSettings(db);
  }

  /** The cached settings while fresh, else read through `db` (so it may be called inside a transaction) and kept. */
  async current(db: Db): Promise<AppSettings> {
    const cached = this.cached;
    if (cached && this.now() - cached.at < this.ttlMs) return cached.settings;
    const generation = this.generation;
    const settings = await readSettings(db);
    // A change made while this read was in flight may be newer than what it read: keeping that would hide the change
    // from this process for a whole TTL (an event hook added, then a user updated at once, and no delivery made).
    if (generation === this.generation) this.cached = { settings, at: this.now() };
    return settings;
  }

  /** Forgets the cached settings (another instance changed them: APP_SETTINGS_CHANNEL). */
  invalidate(): void {
    this.cached = undefined;
    this.generation++;
  }

  /**
   * Keeps this cache in step with changes made by other instances of the same database: each change is announced
   * on APP_SETTINGS_CHANNEL, and a lost subscription re-established calls back too (changes may have been missed).
   * The TTL bounds staleness where notifications are not delivered at all.
   */
  follow(listen: (channel: string, onNotify: (payload: string) => void) => Promise<() => Promise<void>>): Promise<() => Promise<void>> {
    return listen(APP_SETTINGS_CHANNEL, () => this.invalidate());
  }

  /** Checks a change as update would, without writing it (the dashboard's review step); throws what update would. */
  async check(patch: Record<string, unknown>): Promise<void> {
    settingsChange(patch, await readSettings(this.db));
  }

  async update(patch: Record<string, unknown>): Promise<void> {
    const before = await readSettings(this.db);
    const change = settingsChange(patch, before);
    if (Object.keys(change).length === 0) return;
    await writeSettings(this.db, change);
    // Whatever was read before this commit is now stale, including a read still in flight (see current()).
    this.invalidate();
    // Hooks removed or narrowed: their pending deliveries are cancelled (webhooks/service.ts). The settings are written
    // by then: should this fail, the dispatcher cancels what it claims for a hook that no longer takes it, and the
    // housekeeping what is left of removed hooks, so the answer stays the update's.
    if ('webhook_url' in change || 'webhook_events' in change || 'event_hooks' in change) {
      await applyHookChanges(this.db, before, await readSettings(this.db)).catch(() => {});
    }
  }
}
