// Failed sign-ins per client address: after `failures` within `windowMs` (counted from the first), the address may
// not try again until the window is over, right credentials or not. In the process's memory, as the API's per-address
// limit is. The address is Fastify's request.ip: the socket's peer, or X-Forwarded-For's first entry with TRUST_PROXY.

export interface SignInLimit {
  failures: number;
  windowMs: number;
}

export const DEFAULT_SIGN_IN_LIMIT: SignInLimit = { failures: 10, windowMs: 15 * 60_000 };

const MAX_ADDRESSES = 50_000;

export class SignInLimiter {
  private readonly windows = new Map<string, { started: number; failures: number }>();

  constructor(
    private readonly limit: SignInLimit,
    private readonly now: () => number,
  ) {}

  /** Seconds until `address` may try again, or 0 when it may now. */
  blockedFor(address: string): number {
    const window = this.windows.get(address);
    if (!window) return 0;
    const left = window.started + this.limit.windowMs - this.now();
    if (left <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return window.failures >= this.limit.failures ? Math.ceil(left / 1000) : 0;
  }

  fail(address: string): void {
    const now = this.now();
    const window = this.windows.get(address);
    if (window && now - window.started < this.limit.windowMs) {
      window.failures += 1;
      return;
    }
    if (this.windows.size >= MAX_ADDRESSES) this.prune(now);
    this.windows.set(address, { started: now, failures: 1 });
  }

  private prune(now: number): void {
    for (const [address, window] of this.windows) if (now - window.started >= this.limit.windowMs) this.windows.delete(address);
    // Still full: the oldest windows go first (a Map keeps insertion order).
    for (const address of this.windows.keys()) {
      if (this.windows.size < MAX_ADDRESSES) break;
      this.windows.delete(address);
    }
  }
}
