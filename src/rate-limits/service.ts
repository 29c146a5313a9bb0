// Stream's rate limits: fixed one-minute windows, counted only once a caller is known, in buckets no caller can spend
// for another:
//   server-side calls  → the app's `server_side` budget of the operation;
//   user-token calls   → the app's budget of the operation on the caller's platform (from X-Stream-Client), and the
//                        user's own budget of the operation (Stream: 60 a minute per user, endpoint and platform);
//   anonymous calls and refused requests → a budget of the client address, in this process's memory only; an anonymous
//                        call a route accepts (CreateGuest) also counts, while the address is within its budget,
//                        against the app's budget of the operation on the caller's platform, as a user's call does.
// WebSocket connects count as the operation `Connect` (CONNECT_OPERATION), against the same buckets as a request.
// The app-level and user budgets live in `Counters` (memory on the embedded database; the database when several
// processes share one, reserved in blocks off the request path, see store.ts), so they hold across instances.
import type { Caller } from '../auth/core.js';
import type { RateLimitConfig } from '../config.js';
import type { Db } from '../db/schema.js';
import { MemoryCounters, type Counters } from './counters.js';
import { DatabaseCounters, purgeOldCounters, type FallbackListener } from './store.js';
import { addressKey } from '../lib/network.js';

/** Stream's published per-minute limits per platform (reference §5), for the operations this server serves. */
export const STREAM_PER_MINUTE_LIMITS: Record<string, number> = {
  QueryUsers: 1000,
  CreateGuest: 1000,
  UpdateUsers: 300,
  UpdateUsersPartial: 300,
  DeactivateUser: 60,
  DeactivateUsers: 60,
  ReactivateUser: 60,
  ReactivateUsers: 60,
  DeleteUsers: 60,
  DeleteUser: 60,
  RestoreUsers: 60,
  ExportUser: 60,
  ExportUsers: 60,
  UpdateApp: 60,
  GetApp: 10_000,
};
const DEFAULT_PER_MINUTE = 1000;
/** The operation a WebSocket connect counts against (not an HTTP route: reported by GetRateLimits beside them). */
export const CONNECT_OPERATION = 'Connect';
/** Stream: every user is limited to 60 requests per minute per endpoint and platform. */
const USER_PER_MINUTE = 60;
const ADDRESS_PER_MINUTE = 1000;
const WINDOW_MS = 60_000;

/**
 * Where the app-level and user budgets are counted: in the database when several processes may share it
 * (PostgreSQL), in memory when only one can (the embedded database).
 */
export function rateLimitCounters(db: Db, shared: boolean): Counters {
  return shared ? new DatabaseCounters(db) : new MemoryCounters();
}

/** Housekeeping: counts of windows that are over. */
export function purgeOldRateLimitCounts(db: Db, now = Date.now()): Promise<number> {
  return purgeOldCounters(db, Math.floor(now / WINDOW_MS));
}

export const PLATFORMS = ['server_side', 'android', 'ios', 'web', 'unity'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The client platform a user-token call counts against, from its X-Stream-Client header (Stream's SDKs name it). */
export function platformOf(client: string | undefined): Exclude<Platform, 'server_side'> {
  const name = (client ?? '').toLowerCase();
  if (name.includes('android')) return 'android';
  if (name.includes('swift') || name.includes('ios')) return 'ios';
  if (name.includes('unity')) return 'unity';
  return 'web';
}

export interface RateDecision {
  limit: number;
  remaining: number;
  /** Unix seconds at which the window resets. */
  reset: number;
  allowed: boolean;
  retryAfterSeconds: number;
}

export interface LimitInfo {
  limit: number;
  remaining: number;
  reset: number;
}

interface Bucket {
  key: string;
  limit: number;
}

export class RateLimits {
  /** Never in the database: an unauthenticated client must not be able to write there. */
  private addresses = new MemoryCounters();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly counters: Counters = new MemoryCounters(),
    private readonly now: () => number = Date.now,
  ) {}

  /** RATE_LIMITING=off: no call is counted or refused (a test double); GetRateLimits still reports the budgets. */
  get enabled(): boolean {
    return this.config.enabled ?? true;
  }

  /** Forgets every count of this process (clearing the data); shared counts go with the database's tables. */
  resetLocalCounts(): void {
    this.addresses = new MemoryCounters();
    this.counters.resetLocal?.();
  }

  /** The app's budget of an operation on one platform, per minute. */
  operationLimit(operation: string): number {
    // Own keys only: an operation name comes from the request (GetRateLimits' `endpoints`), and may be "valueOf".
    if (Object.hasOwn(this.config.overrides, operation)) return this.config.overrides[operation]!;
    const published = Object.hasOwn(STREAM_PER_MINUTE_LIMITS, operation) ? STREAM_PER_MINUTE_LIMITS[operation]! : DEFAULT_PER_MINUTE;
    return Math.round(published * this.config.multiplier);
  }

  private userLimit(): number {
    return this.config.userPerMinute ?? Math.round(USER_PER_MINUTE * this.config.multiplier);
  }

  private addressLimit(): number {
    return this.config.addressPerMinute ?? ADDRESS_PER_MINUTE;
  }

  private window() {
    const now = this.now();
    const window = Math.floor(now / WINDOW_MS);
    const resetMs = (window + 1) * WINDOW_MS;
    return { window, reset: Math.floor(resetMs / 1000), retryAfterSeconds: Math.max(1, Math.ceil((resetMs - now) / 1000)) };
  }

  /** The decision over buckets just counted: the most constrained one speaks for all. */
  private decide(buckets: Bucket[], counts: number[]): RateDecision {
    const { reset, retryAfterSeconds } = this.window();
    let tightest = { limit: Infinity, remaining: Infinity, allowed: true };
    buckets.forEach((bucket, i) => {
      const used = counts[i]!;
      const remaining = Math.max(0, bucket.limit - used);
      const allowed = used <= bucket.limit;
      if (!allowed || (tightest.allowed && remaining < tightest.remaining)) tightest = { limit: bucket.limit, remaining, allowed };
    });
    return { ...tightest, reset, retryAfterSeconds };
  }

  /**
   * Counts a call of a known server-side or user caller against its buckets. A user's call counts against the app's
   * budget of its platform only while the user is within its own: a user over its limit spends nobody else's budget.
   */
  async take(caller: Exclude<Caller, { kind: 'anonymous' }>, platform: Platform, operation: string): Promise<RateDecision> {
    const { window } = this.window();
    const app: Bucket = { key: `${platform}:${operation}`, limit: this.operationLimit(operation) };
    if (caller.kind === 'server') return this.decide([app], await this.count([app], window));
    // Stream: per user, endpoint and platform.
    const user: Bucket = { key: `user:${caller.userId}:${platform}:${operation}`, limit: this.userLimit() };
    const [userCount] = await this.count([user], window);
    if (userCount! > user.limit) return this.decide([user], [userCount!]);
    const [appCount] = await this.count([app], window);
    return this.decide([app, user], [appCount!, userCount!]);
  }

  /** Counts one call against each bucket, with their limits (the database counters reserve blocks sized by them). */
  private count(buckets: readonly Bucket[], window: number): Promise<number[]> {
    return this.counters.increment(
      buckets.map((bucket) => bucket.key),
      window,
      buckets.map((bucket) => bucket.limit),
    );
  }

  /** Told when calls are counted locally because the shared counter did not answer in time (PostgreSQL). */
  onLocalFallback(listener: FallbackListener): void {
    if (this.counters instanceof DatabaseCounters) this.counters.onFallback(listener);
  }

  /** Counts an anonymous call or a refused request against its client address (keyed by addressKey). */
  takeForAddress(address: string): RateDecision {
    const bucket = { key: addressKey(address), limit: this.addressLimit() };
    return this.decide([bucket], this.addresses.incrementNow([bucket.key], this.window().window));
  }

  /**
   * Counts an anonymous call a route accepts (CreateGuest): against its client address, and, while the address is
   * within its budget, against the app's budget of the operation on its platform, so that many addresses together
   * cannot create more guests than the app allows.
   */
  async takeAnonymous(address: string, platform: Exclude<Platform, 'server_side'>, operation: string): Promise<RateDecision> {
    const own = { key: addressKey(address), limit: this.addressLimit() };
    const { window } = this.window();
    const [ownCount] = this.addresses.incrementNow([own.key], window);
    if (ownCount! > own.limit) return this.decide([own], [ownCount!]);
    const app: Bucket = { key: `${platform}:${operation}`, limit: this.operationLimit(operation) };
    const [appCount] = await this.count([app], window);
    return this.decide([app, own], [appCount!, ownCount!]);
  }

  /** GetRateLimits: the app's budgets of `operations` on each platform asked for, as used so far in this window. */
  async report(platforms: readonly Platform[], operations: readonly string[]): Promise<Partial<Record<Platform, Record<string, LimitInfo>>>> {
    const { window, reset } = this.window();
    const keys = platforms.flatMap((platform) => operations.map((operation) => `${platform}:${operation}`));
    const counts = await this.counters.read(keys, window);
    const report: Partial<Record<Platform, Record<string, LimitInfo>>> = {};
    let i = 0;
    for (const platform of platforms) {
      const section: Record<string, LimitInfo> = {};
      for (const operation of operations) {
        const limit = this.operationLimit(operation);
        section[operation] = { limit, remaining: Math.max(0, limit - counts[i++]!), reset };
      }
      report[platform] = section;
    }
    return report;
  }
}
