// Counters of one-minute windows, one per bucket. This process's own memory: exact for one process (the embedded
// database allows no other) and for what must never reach the database (per-address buckets).
export interface Counters {
  /**
   * Counts one call against each bucket in `window` and returns each count after it: at most the bucket's limit
   * (`limits`, in the order of `buckets`) for a call within it. Counters that reserve budget in blocks need the
   * limits to size them (DatabaseCounters); without them, every call is counted exactly.
   */
  increment(buckets: readonly string[], window: number, limits?: readonly number[]): Promise<number[]>;
  /** Each bucket's count in `window`. */
  read(buckets: readonly string[], window: number): Promise<number[]>;
  /** Forgets what this process holds of the counts (clearing the data). */
  resetLocal?(): void;
}

/** Buckets kept at most; beyond this (a flood of distinct addresses) the window starts over rather than growing. */
const MAX_BUCKETS = 100_000;

export class MemoryCounters implements Counters {
  private window = -1;
  private readonly counts = new Map<string, number>();

  private roll(window: number) {
    if (window !== this.window || this.counts.size > MAX_BUCKETS) {
      this.window = window;
      this.counts.clear();
    }
  }

  incrementNow(buckets: readonly string[], window: number): number[] {
    this.roll(window);
    return buckets.map((bucket) => {
      const count = (this.counts.get(bucket) ?? 0) + 1;
      this.counts.set(bucket, count);
      return count;
    });
  }

  async increment(buckets: readonly string[], window: number): Promise<number[]> {
    return this.incrementNow(buckets, window);
  }

  resetLocal(): void {
    this.counts.clear();
  }

  async read(buckets: readonly string[], window: number): Promise<number[]> {
    this.roll(window);
    return buckets.map((bucket) => this.counts.get(bucket) ?? 0);
  }
}
