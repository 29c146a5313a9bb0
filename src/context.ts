// What every service is given: the database, the app's settings as hot paths read them, the app's credentials, and
// how tasks are enqueued. buildApp makes one; the WebSocket hub, the worker's task handlers and the dashboard share it.
import { AppSettingsCache } from './app-settings/service.js';
import type { AppCredentials } from './auth/core.js';
import type { Db } from './db/schema.js';
import { TombstoneHasher } from './lifecycle/tombstones.js';
import { DEFAULT_LIMITS, type InputLimits } from './limits.js';
import { DEFAULT_RATE_LIMIT_MULTIPLIER, DEFAULT_TASK_MAX_ATTEMPTS, type RateLimitConfig } from './config.js';
import { RateLimits, rateLimitCounters } from './rate-limits/service.js';
import { WebhookEvents } from './webhooks/service.js';

export interface TaskSettings {
  /** Attempts a task gets before it is failed for good. */
  maxAttempts: number;
}

export interface ServiceContext {
  db: Db;
  settings: AppSettingsCache;
  credentials: () => AppCredentials;
  tasks: TaskSettings;
  /** Bounds on request input (README "Limits"), checked before any SQL is built. */
  limits: InputLimits;
  /** Hashes user ids for the tombstones of hard-deleted users. */
  tombstones: TombstoneHasher;
  /** The rate-limit buckets calls are counted against (and GetRateLimits reports). */
  rateLimits: RateLimits;
  /** Records webhook events in the transactions of the changes that cause them. */
  events: WebhookEvents;
  /** DELETE /operator/data: whether it is served (memory mode, or ALLOW_CLEAR=on), and what else holds data in this
   * process, told before the tables are emptied (the WebSocket hub closes its sockets). */
  clearing: { allowed: boolean; listeners: Set<() => Promise<void> | void> };
}

export function createServiceContext(deps: {
  db: Db;
  credentials: AppCredentials;
  taskMaxAttempts?: number;
  limits?: Partial<InputLimits>;
  rateLimit?: RateLimitConfig;
  /** Count rate limits in the database, shared with the other instances on it (PostgreSQL). */
  sharedRateLimits?: boolean;
  /** The clock rate-limit windows are counted by. */
  now?: () => number;
  /** Serve DELETE /operator/data. */
  allowClear?: boolean;
}): ServiceContext {
  const settings = new AppSettingsCache(deps.db);
  return {
    db: deps.db,
    settings,
    credentials: () => deps.credentials,
    tasks: { maxAttempts: deps.taskMaxAttempts ?? DEFAULT_TASK_MAX_ATTEMPTS },
    limits: { ...DEFAULT_LIMITS, ...deps.limits },
    tombstones: new TombstoneHasher(),
    rateLimits: new RateLimits({ multiplier: DEFAULT_RATE_LIMIT_MULTIPLIER, overrides: {}, ...deps.rateLimit }, rateLimitCounters(deps.db, deps.sharedRateLimits ?? false), deps.now),
    events: new WebhookEvents(settings),
    clearing: { allowed: deps.allowClear ?? false, listeners: new Set() },
  };
}
