// Who was active when: `last_active` and monthly active users, from user-token requests and WebSocket connections
// (guests count, anonymous callers never do).
import type { Db } from '../db/schema.js';
import { inputError } from '../http/errors.js';
import { touchLastActive } from '../users/store/lifecycle.js';
import { countActiveUsers, countActiveUsersByMonth, markActiveThisMonth } from './store.js';

const ACTIVITY_INTERVAL_MS = 60_000;

/**
 * Records that a user was active: `last_active` (at most once a minute per user and process, not on every request)
 * and the user's row for this calendar month, which counts them as a monthly active user.
 */
export class ActivityRecorder {
  private readonly lastRecorded = new Map<string, number>();
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async record(userId: string): Promise<void> {
    const now = this.now();
    const last = this.lastRecorded.get(userId);
    if (last !== undefined && now - last < ACTIVITY_INTERVAL_MS) return;
    if (this.lastRecorded.size > 100_000) this.lastRecorded.clear();
    // Not created yet: counted from its first request as a user.
    if (!(await touchLastActive(this.db, userId))) return;
    await markActiveThisMonth(this.db, userId);
    this.lastRecorded.set(userId, now);
  }
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** Monthly active users of a month (YYYY-MM; default the current month, UTC). */
export async function monthlyActiveUsers(db: Db, month = new Date().toISOString().slice(0, 7)): Promise<{ month: string; active_users: number }> {
  if (!MONTH.test(month)) throw inputError('month must look like YYYY-MM');
  return { month, active_users: await countActiveUsers(db, `${month}-01`) };
}

/** Monthly active users of the last `months` calendar months (UTC), oldest first, the current month last. */
export async function monthlyActiveUsersHistory(db: Db, months = 12, now = new Date()): Promise<Array<{ month: string; active_users: number }>> {
  const list: string[] = [];
  for (let back = months - 1; back >= 0; back -= 1) {
    list.push(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1)).toISOString().slice(0, 7));
  }
  const counts = new Map((await countActiveUsersByMonth(db, `${list[0]}-01`)).map((row) => [row.month, row.n]));
  return list.map((month) => ({ month, active_users: counts.get(month) ?? 0 }));
}
