// Measurement helpers shared by the benchmark's sections: concurrent runs through tinybench, quantiles, a seeded PRNG.
import fs from 'node:fs';
import { Bench, type Statistics } from 'tinybench';

export function statistics(bench: Bench, name: string): Statistics {
  const result = bench.getTask(name)?.result;
  if (!result) throw new Error(`${name}: no result`);
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed') throw new Error(`${name}: ${result.state}`);
  return result.latency;
}

/** Linear interpolation between order statistics, as tinybench does. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Runs the calls with `concurrency` in flight; returns the wall time and each call's latency (ms). */
export async function runConcurrently(
  name: string,
  calls: Array<() => Promise<unknown>>,
  concurrency: number,
): Promise<{ seconds: number; samples: number[] }> {
  let next = 0;
  let start = 0;
  let end = 0;
  const bench = new Bench({
    concurrency: 'task',
    threshold: concurrency,
    iterations: calls.length,
    time: 0,
    warmup: false,
    retainSamples: true,
    throws: true,
  });
  bench.add(name, () => calls[next++]!(), {
    async: true,
    beforeAll: () => void (start = performance.now()),
    afterAll: () => void (end = performance.now()),
  });
  await bench.run();
  if (next !== calls.length) throw new Error(`${name}: ran ${next} calls, expected ${calls.length}`);
  return { seconds: (end - start) / 1000, samples: [...(statistics(bench, name).samples ?? [])] };
}

/** Sequential calls, each timed (ms); the first `warmup` are run but not kept. */
export async function timeSequential(count: number, warmup: number, call: (i: number) => Promise<unknown>): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const t0 = performance.now();
    await call(i);
    if (i >= warmup) samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seeded PRNG (mulberry32), so that runs pick the same ids and prefixes. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** `median (min–max)` of per-round values. */
export function withSpread(values: number[], fmt: (n: number) => string): string {
  if (values.length === 0) return '–';
  if (values.length === 1) return fmt(values[0]!);
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** CPU time (ms, user + system) so far of each of the processes `pids` still running, from /proc (Linux). */
export function processCpuMs(pids: readonly number[]): Map<number, number> {
  const tickMs = 1000 / 100; // USER_HZ is 100 on Linux
  const cpu = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is the
      // 14th field of the line, stime the 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * tickMs);
    } catch {
      // gone
    }
  }
  return cpu;
}

/**
 * CPU time the processes alive at `after` spent since `before` (a process that started in between counts from zero).
 * A process that ended in between is left out: its last moments are lost, rather than its whole past subtracted.
 */
export function cpuSpentMs(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0;
  for (const [pid, ms] of after) spent += ms - (before.get(pid) ?? 0);
  return spent;
}

/** The pids of the local PostgreSQL server's processes (postmaster and backends), read from /proc. */
export function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}
