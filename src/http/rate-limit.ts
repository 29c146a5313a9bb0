// A fixed one-minute-window limiter per app and operation, like Stream's. Counters live in this process: with
// several instances behind a balancer, each enforces the limit on the traffic it sees.

/** Stream's published per-minute limits for the server platform (reference §5). */
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
};
const DEFAULT_PER_MINUTE = 1000;
const WINDOW_MS = 60_000;

export interface RateDecision {
  limit: number;
  remaining: number;
  /** Unix seconds at which the window resets. */
  reset: number;
  allowed: boolean;
  retryAfterSeconds: number;
}

export class RateLimiter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(
    private readonly multiplier: number,
    private readonly overrides: Record<string, number>,
    private readonly now: () => number = Date.now,
  ) {}

  limitFor(operation: string): number {
    return this.overrides[operation] ?? Math.round((STREAM_PER_MINUTE_LIMITS[operation] ?? DEFAULT_PER_MINUTE) * this.multiplier);
  }

  take(app: string, operation: string): RateDecision {
    const now = this.now();
    const window = Math.floor(now / WINDOW_MS);
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const key = `${app}\u0000${operation}`;
    const used = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, used);
    const limit = this.limitFor(operation);
    const resetMs = (window + 1) * WINDOW_MS;
    return {
      limit,
      remaining: Math.max(0, limit - used),
      reset: Math.floor(resetMs / 1000),
      allowed: used <= limit,
      retryAfterSeconds: Math.max(1, Math.ceil((resetMs - now) / 1000)),
    };
  }
}
