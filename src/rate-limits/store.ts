// Rate-limit counters in the database, for several instances on one PostgreSQL: every instance counts in the same
// rows, so a limit holds for the app as a whole. Increments are batched the way a database batches commits: while one
// statement is in flight, the calls that arrive wait and go together in the next, so a busy process sends one
// statement per round trip rather than one per request, and concurrent requests do not queue on one hot row's lock.
// Each call still learns its exact count: within a batch, the calls of one bucket take consecutive values.
import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import type { Counters } from './counters.js';

interface Waiter {
  resolve(counts: number[]): void;
  reject(error: unknown): void;
  /** The row of each count this caller wants, and the position of its increment among the batch's for that row. */
  slots: Array<{ row: string; position: number }>;
}

interface Batch {
  /** Increments per row, keyed by rowKey. */
  deltas: Map<string, { bucket: string; minute: number; delta: number }>;
  waiters: Waiter[];
}

const rowKey = (bucket: string, minute: number) => `${minute} ${bucket}`;

export class DatabaseCounters implements Counters {
  private pending: Batch | undefined;
  private flushing = false;

  constructor(private readonly db: Db) {}

  increment(buckets: readonly string[], minute: number): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const batch: Batch = (this.pending ??= { deltas: new Map(), waiters: [] });
      const slots = buckets.map((bucket) => {
        const row = rowKey(bucket, minute);
        const entry = batch.deltas.get(row) ?? { bucket, minute, delta: 0 };
        entry.delta += 1;
        batch.deltas.set(row, entry);
        return { row, position: entry.delta };
      });
      batch.waiters.push({ resolve, reject, slots });
      void this.flushSoon();
    });
  }

  /** Sends the pending batch unless one is in flight, in which case it goes when that one is done. */
  private async flushSoon(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending) {
        const batch = this.pending;
        this.pending = undefined;
        await this.flush(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async flush(batch: Batch): Promise<void> {
    const rows = [...batch.deltas.values()];
    try {
      const result = await sql<{ bucket: string; minute: string; count: number }>`
        INSERT INTO rate_limit_counters AS c (bucket, minute, count)
        SELECT b, m, d FROM unnest(${rows.map((r) => r.bucket)}::text[], ${rows.map((r) => r.minute)}::bigint[], ${rows.map((r) => r.delta)}::int[]) AS u(b, m, d)
        -- Rows in one order in every instance: two batches that share rows cannot deadlock.
        ORDER BY m, b
        ON CONFLICT (bucket, minute) DO UPDATE SET count = c.count + excluded.count
        RETURNING c.bucket, c.minute, c.count`.execute(this.db);
      const totals = new Map(result.rows.map((row) => [rowKey(row.bucket, Number(row.minute)), row.count]));
      for (const waiter of batch.waiters) {
        // The batch's increments of a row end at the returned total: the k-th of n got total - n + k.
        waiter.resolve(waiter.slots.map(({ row, position }) => totals.get(row)! - batch.deltas.get(row)!.delta + position));
      }
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
    }
  }

  async read(buckets: readonly string[], minute: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('rate_limit_counters')
      .select(['bucket', 'count'])
      .where('minute', '=', minute)
      .where('bucket', 'in', buckets.length > 0 ? [...buckets] : [''])
      .execute();
    const counts = new Map(rows.map((row) => [row.bucket, row.count]));
    return buckets.map((bucket) => counts.get(bucket) ?? 0);
  }
}

/** Housekeeping: windows before the previous minute are never read again. */
export async function purgeOldCounters(db: Db, currentMinute: number): Promise<number> {
  const result = await db.deleteFrom('rate_limit_counters').where('minute', '<', currentMinute - 1).executeTakeFirst();
  return Number(result.numDeletedRows);
}
