// Rate-limit counters in the database, for several instances on one PostgreSQL, counted off the request path by
// block reservations, with the app's limit still exact across instances.
//
// Each instance takes budget from the shared counter in blocks: one statement reserves up to a block of units of a
// bucket (never past the limit: the row's count is the units reserved by every instance, and a reservation takes
// only what is left), and the instance then spends the block in memory. So the total spent across instances never
// exceeds the limit: a burst spread over three instances gets the limit, never three times it. A block's unspent
// units are lost to the other instances until the window resets.
//
// The block adapts to the limit (blockSize): a limit of tens reserves one unit per call, a round trip per call as
// before (calls of one bucket that arrive together still share one statement); Stream's default limits, thousands a
// minute, reserve blocks of tens to hundreds, and the next block is reserved in the background before the current
// one runs out, so that a call rarely waits for the database.
//
// A call waits for the database only when its instance has no units of the bucket left, and then for at most
// FALLBACK_AFTER_MS: past that (a statement stuck behind a row lock, a connection black-holed), it goes on counted
// locally against what this instance last knew of the bucket, and what it spent is added to the shared count with
// the next reservation that gets through. One stuck statement can no longer stall an instance's requests.
//
// Rows of a window are reserved in (minute, bucket) order in every instance, so two statements cannot deadlock.
import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import type { Counters } from './counters.js';

/** How long a call waits for a reservation before it goes on counted locally. */
export const FALLBACK_AFTER_MS = 250;
/** A reservation in flight longer than this no longer holds back the next one (of other buckets). */
const STUCK_AFTER_MS = FALLBACK_AFTER_MS;
/** Most reservation statements in flight at once (one normally; more only while some are stuck). */
const MAX_IN_FLIGHT = 4;
/** The limit of a bucket counted without one: counts are exact and never refused (see increment). */
const NO_LIMIT = 2_147_483_647;
/** Windows of this many minutes before the current one are forgotten. */
const KEEP_MINUTES = 1;

/** Units reserved at a time for a bucket of `limit` a minute: 1 below 200, about 1 % of the limit above, at most 1,000. */
export function blockSize(limit: number): number {
  if (limit >= NO_LIMIT) return 1;
  return Math.max(1, Math.min(1_000, Math.floor(limit / 100)));
}

/** What this instance holds of one bucket in one window. */
interface Allowance {
  bucket: string;
  minute: number;
  limit: number;
  /** Units this instance reserved (and spent locally while the database did not answer). */
  reserved: number;
  spent: number;
  /** Units spent without a reservation (fallback), not yet added to the shared count. */
  debt: number;
  /** Units reserved by every instance, as of this instance's last reservation (plus its debt since). */
  sharedTotal: number;
  /** The shared count reached the limit: nothing more can be reserved in this window. */
  exhausted: boolean;
  /** Calls waiting for units, in arrival order. */
  waiters: Waiter[];
  /** In a reservation statement now (a row is in at most one at a time). */
  inFlight: boolean;
  /** Queued for the next statement. */
  queued: boolean;
}

interface Waiter {
  resolve(count: number): void;
  timer: NodeJS.Timeout;
}

/** Told when calls go on counted locally because the database did not answer in time (metrics and a log line). */
export type FallbackListener = (info: { bucket: string; reason: 'timeout' | 'error'; error?: unknown }) => void;

export class DatabaseCounters implements Counters {
  private readonly allowances = new Map<string, Allowance>();
  private readonly queue: Allowance[] = [];
  private readonly inFlight = new Set<{ startedAt: number }>();
  private pumpTimer: NodeJS.Timeout | undefined;
  private newestMinute = 0;
  private fallbackListener: FallbackListener | undefined;

  constructor(private readonly db: Db) {}

  onFallback(listener: FallbackListener): void {
    this.fallbackListener = listener;
  }

  /** Forgets this instance's blocks (the data was cleared, the shared counts with it); one busy now is left to finish. */
  resetLocal(): void {
    for (const [key, allowance] of this.allowances) {
      if (!allowance.inFlight && !allowance.queued && allowance.waiters.length === 0) this.allowances.delete(key);
    }
  }

  /**
   * Counts one call against each bucket and returns, for each, the units used in the window as this instance knows
   * them (every instance's reservations less its own unspent units), which is at most the bucket's limit for a call
   * allowed, and the limit plus one for a call refused. Without `limits` a bucket has no limit: each call then learns
   * its exact count, as when every call was a statement of its own.
   */
  increment(buckets: readonly string[], minute: number, limits?: readonly number[]): Promise<number[]> {
    return Promise.all(buckets.map((bucket, i) => this.take(bucket, minute, limits?.[i] ?? NO_LIMIT)));
  }

  private allowance(bucket: string, minute: number, limit: number): Allowance {
    if (minute > this.newestMinute) {
      this.newestMinute = minute;
      for (const [key, old] of this.allowances) {
        if (old.minute < minute - KEEP_MINUTES && !old.inFlight && !old.queued && old.waiters.length === 0) this.allowances.delete(key);
      }
    }
    const key = `${minute} ${bucket}`;
    let allowance = this.allowances.get(key);
    if (!allowance) {
      allowance = { bucket, minute, limit, reserved: 0, spent: 0, debt: 0, sharedTotal: 0, exhausted: false, waiters: [], inFlight: false, queued: false };
      this.allowances.set(key, allowance);
    }
    allowance.limit = limit; // a configuration may change it; the latest call's applies
    return allowance;
  }

  /** Units used in the window as far as this instance knows: every reservation, less its own units unspent. */
  private used(a: Allowance): number {
    return a.sharedTotal - (a.reserved - a.spent);
  }

  private take(bucket: string, minute: number, limit: number): Promise<number> {
    const a = this.allowance(bucket, minute, limit);
    if (a.waiters.length === 0 && a.spent < a.reserved) {
      a.spent++;
      // Reserve the next block while half of this one is left, so that calls do not wait for it.
      const block = blockSize(a.limit);
      if (block > 1 && a.reserved - a.spent <= block / 2 && !a.exhausted) this.enqueue(a);
      return Promise.resolve(this.used(a));
    }
    if (a.exhausted) return Promise.resolve(a.limit + 1);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const index = a.waiters.indexOf(waiter);
          if (index < 0) return;
          a.waiters.splice(index, 1);
          this.spendLocally(a, waiter);
          this.fallbackListener?.({ bucket: a.bucket, reason: 'timeout' });
        }, FALLBACK_AFTER_MS),
      };
      waiter.timer.unref();
      a.waiters.push(waiter);
      this.enqueue(a);
    });
  }

  /**
   * A call the database did not answer for: counted against what this instance knows of the bucket (the shared total
   * it last saw plus what it spent since), and owed to the shared count.
   */
  private spendLocally(a: Allowance, waiter: Waiter) {
    clearTimeout(waiter.timer);
    if (a.sharedTotal + 1 > a.limit) return waiter.resolve(a.limit + 1);
    a.debt++;
    a.sharedTotal++;
    a.reserved++;
    a.spent++;
    waiter.resolve(this.used(a));
  }

  private enqueue(a: Allowance) {
    if (a.queued || a.inFlight) return;
    a.queued = true;
    this.queue.push(a);
    this.pump();
  }

  /** Sends the queued reservations: at once when no statement is in flight, else when those in flight are stuck. */
  private pump() {
    if (this.queue.length === 0 || this.inFlight.size >= MAX_IN_FLIGHT) return;
    const now = Date.now();
    const youngest = Math.max(0, ...[...this.inFlight].map((flight) => flight.startedAt));
    if (this.inFlight.size > 0 && now - youngest < STUCK_AFTER_MS) {
      // Statements in flight carry the queue of their round when they come back (or this timer, if they are stuck).
      if (!this.pumpTimer) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = undefined;
          this.pump();
        }, STUCK_AFTER_MS - (now - youngest));
        this.pumpTimer.unref();
      }
      return;
    }
    const batch = this.queue.splice(0);
    for (const a of batch) {
      a.queued = false;
      a.inFlight = true;
    }
    const flight = { startedAt: now };
    this.inFlight.add(flight);
    void this.reserve(batch).finally(() => {
      this.inFlight.delete(flight);
      this.pump();
    });
  }

  private async reserve(batch: Allowance[]): Promise<void> {
    // What each row asks for: enough for the calls waiting, at least a block; and the units it owes.
    const asks = batch.map((a) => ({ a, amount: Math.max(blockSize(a.limit), a.waiters.length), debt: a.debt }));
    try {
      const result = await sql<{ bucket: string; minute: string; count: number; granted: number }>`
        WITH ask AS (
          SELECT * FROM unnest(
            ${asks.map(({ a }) => a.bucket)}::text[], ${asks.map(({ a }) => a.minute)}::bigint[],
            ${asks.map(({ a }) => a.limit)}::int[], ${asks.map(({ amount }) => amount)}::int[], ${asks.map(({ debt }) => debt)}::int[]
          ) AS u(b, m, lim, amount, debt)
        )
        INSERT INTO rate_limit_counters AS c (bucket, minute, count, granted)
        SELECT b, m, debt + least(amount, greatest(0, lim - debt)), least(amount, greatest(0, lim - debt)) FROM ask
        -- Rows in one order in every instance: two reservations that share rows cannot deadlock.
        ORDER BY m, b
        ON CONFLICT (bucket, minute) DO UPDATE SET
          count = c.count + (SELECT ask.debt + least(ask.amount, greatest(0, ask.lim - c.count - ask.debt)) FROM ask WHERE ask.b = c.bucket AND ask.m = c.minute),
          granted = (SELECT least(ask.amount, greatest(0, ask.lim - c.count - ask.debt)) FROM ask WHERE ask.b = c.bucket AND ask.m = c.minute)
        RETURNING c.bucket, c.minute, c.count, c.granted`.execute(this.db);
      const rows = new Map(result.rows.map((row) => [`${Number(row.minute)} ${row.bucket}`, row]));
      for (const { a, debt } of asks) {
        a.inFlight = false;
        const row = rows.get(`${a.minute} ${a.bucket}`);
        if (!row) continue;
        a.debt -= debt;
        // Units spent locally while this was in flight are still owed: the shared total is the database's plus them.
        a.sharedTotal = row.count + a.debt;
        a.reserved += row.granted;
        if (row.count >= a.limit) a.exhausted = true;
        this.serveWaiters(a);
        // Calls counted locally while this was in flight: owed to the shared count now that it answers again.
        if (a.debt > 0) this.enqueue(a);
      }
    } catch (error) {
      // The database refused or failed: the calls waiting go on counted locally, the debt waits for the next time.
      for (const { a } of asks) {
        a.inFlight = false;
        if (a.waiters.length > 0) this.fallbackListener?.({ bucket: a.bucket, reason: 'error', error });
        for (const waiter of a.waiters.splice(0)) this.spendLocally(a, waiter);
      }
    }
  }

  private serveWaiters(a: Allowance) {
    while (a.waiters.length > 0 && a.spent < a.reserved) {
      const waiter = a.waiters.shift()!;
      clearTimeout(waiter.timer);
      a.spent++;
      waiter.resolve(this.used(a));
    }
    if (a.waiters.length === 0) return;
    if (a.exhausted) {
      for (const waiter of a.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.resolve(a.limit + 1);
      }
      return;
    }
    this.enqueue(a); // more calls arrived than were asked for: another round
  }

  /** Each bucket's units used in `minute`: every instance's reservations, less this instance's unspent units. */
  async read(buckets: readonly string[], minute: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('rate_limit_counters')
      .select(['bucket', 'count'])
      .where('minute', '=', minute)
      .where('bucket', 'in', buckets.length > 0 ? [...buckets] : [''])
      .execute();
    const counts = new Map(rows.map((row) => [row.bucket, row.count]));
    return buckets.map((bucket) => {
      const own = this.allowances.get(`${minute} ${bucket}`);
      return Math.max(0, (counts.get(bucket) ?? 0) - (own ? own.reserved - own.spent - own.debt : 0));
    });
  }
}

/** Housekeeping: windows before the previous minute are never read again. */
export async function purgeOldCounters(db: Db, currentMinute: number): Promise<number> {
  const result = await db.deleteFrom('rate_limit_counters').where('minute', '<', currentMinute - 1).executeTakeFirst();
  return Number(result.numDeletedRows);
}
