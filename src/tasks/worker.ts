// The worker loop inside each server process: wakes on NOTIFY (with a polling fallback), claims tasks, runs each
// handler in a transaction that also records completion (fenced on the lease), renews leases of long tasks,
// retries failures with exponential backoff, and on shutdown stops claiming and finishes or releases what it holds.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Db, Tx } from '../db/schema.js';
import { StreamError } from '../http/errors.js';
import {
  claimTasks,
  failAttempt,
  releaseTask,
  renewLease,
  runAndComplete,
  TASKS_CHANNEL,
  type ClaimedTask,
} from './store.js';

/** A task handler: applies the task's effects through `trx` and returns its result. Must be idempotent. */
export type TaskHandler = (trx: Tx, task: ClaimedTask) => Promise<unknown>;

export interface WorkerOptions {
  db: Db;
  handlers: Record<string, TaskHandler>;
  /** Subscribes to NOTIFY; returns an unsubscribe function. */
  listen?: (channel: string, onNotify: (payload: string) => void) => Promise<() => Promise<void>>;
  leaseMs: number;
  concurrency: number;
  pollMs: number;
  /** First retry delay; doubles with each attempt, capped at maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How long shutdown waits for running tasks before releasing them. */
  shutdownGraceMs?: number;
  /** statement_timeout of a task's transaction (PostgreSQL), longer than a request's. */
  statementTimeoutMs?: number;
  logger?: Logger;
  owner?: string;
  /** Told how each attempt ended (metrics). */
  onOutcome?: (type: string, outcome: TaskOutcome) => void;
}

export type TaskOutcome = 'completed' | 'retried' | 'failed' | 'lease_lost';

class LeaseLostError extends Error {}

export class Worker {
  readonly owner: string;
  private readonly running = new Map<string, { task: ClaimedTask; done: Promise<void> }>();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  async start(): Promise<void> {
    if (this.options.listen) {
      try {
        this.unlisten = await this.options.listen(TASKS_CHANNEL, () => this.notify());
      } catch (error) {
        this.options.logger?.warn({ err: error }, 'LISTEN failed; the worker polls only');
      }
    }
    this.loop = this.run();
  }

  /** Wakes the loop (a task was enqueued or a slot freed). */
  notify(): void {
    this.woken = true;
    this.wake?.();
  }

  private async sleep(ms: number): Promise<void> {
    if (this.woken) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      // Let pending I/O run between rounds: PGlite answers queries without returning to the event loop, so a worker
      // draining a backlog would otherwise keep HTTP requests waiting until the queue is empty.
      await new Promise((resolve) => setImmediate(resolve));
      this.woken = false;
      const free = this.options.concurrency - this.running.size;
      let claimed: ClaimedTask[] = [];
      if (free > 0) {
        try {
          claimed = await claimTasks(this.options.db, this.owner, free, this.options.leaseMs);
        } catch (error) {
          if (this.stopping) break;
          this.options.logger?.error({ err: error }, 'claiming tasks failed');
        }
      }
      for (const task of claimed) this.startTask(task);
      // A full batch suggests more work waiting: go round again at once.
      if (claimed.length > 0 && claimed.length === free) continue;
      await this.sleep(this.options.pollMs);
    }
  }

  private startTask(task: ClaimedTask): void {
    // execute() records its own failures; what is left (the database gone while recording one) is logged here, so
    // that no rejection goes unhandled. The lease then runs out and the task is claimed again.
    const done = this.execute(task)
      .catch((error) => this.options.logger?.error({ err: error, task: task.id }, 'a task attempt could not be recorded'))
      .finally(() => {
        this.running.delete(task.id);
        this.notify();
      });
    this.running.set(task.id, { task, done });
  }

  private retryDelay(task: ClaimedTask): number | null {
    if (task.attempts >= task.max_attempts) return null;
    const base = this.options.backoffMs ?? 1000;
    return Math.min(base * 2 ** (task.attempts - 1), this.options.maxBackoffMs ?? 5 * 60_000);
  }

  private async execute(task: ClaimedTask): Promise<void> {
    const { db, logger, leaseMs } = this.options;
    await new Promise((resolve) => setImmediate(resolve)); // see run()
    if (task.attempts > task.max_attempts) {
      // Claimed again after its lease ran out on the last allowed attempt (its process died each time).
      await failAttempt(db, task, { type: 'TaskInterrupted', description: 'the task was interrupted too many times' }, null);
      this.options.onOutcome?.(task.type, 'failed');
      return;
    }
    const handler = this.options.handlers[task.type];
    if (!handler) {
      await failAttempt(db, task, { type: 'UnknownTaskType', description: `no handler for task type ${task.type}` }, null);
      this.options.onOutcome?.(task.type, 'failed');
      return;
    }
    // Renew the lease while the handler runs, so a long task is not taken over while its worker is alive.
    const renewal = setInterval(() => {
      renewLease(db, task, leaseMs).catch((error) => logger?.warn({ err: error, task: task.id }, 'lease renewal failed'));
    }, Math.max(50, Math.floor(leaseMs / 3)));
    try {
      const completed = await runAndComplete(db, task, (trx) => handler(trx, task), { statementTimeoutMs: this.options.statementTimeoutMs });
      if (!completed) throw new LeaseLostError();
      logger?.debug({ task: task.id, type: task.type }, 'task completed');
      this.options.onOutcome?.(task.type, 'completed');
    } catch (error) {
      if (error instanceof LeaseLostError) {
        logger?.warn({ task: task.id }, 'lease lost before completion; the effects were rolled back');
        this.options.onOutcome?.(task.type, 'lease_lost');
        return;
      }
      // A StreamError is a rejection of the task's input (e.g. a duplicate username): trying again cannot help.
      const rejected = error instanceof StreamError;
      const description = rejected ? error.detail : error instanceof Error ? error.message : String(error);
      const type = rejected ? `StreamError ${error.code}` : error instanceof Error ? error.name : 'Error';
      logger?.warn({ err: error, task: task.id, attempt: task.attempts }, 'task attempt failed');
      const delay = rejected ? null : this.retryDelay(task);
      this.options.onOutcome?.(task.type, delay === null ? 'failed' : 'retried');
      await failAttempt(db, task, { type, description }, delay).catch(
        (failError) => logger?.error({ err: failError, task: task.id }, 'recording a task failure failed'),
      );
    } finally {
      clearInterval(renewal);
    }
  }

  /** Stops claiming; waits for running tasks up to the grace period, then releases the rest to other workers. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Through notify, not wake alone: a loop in the middle of a claim is not asleep yet, and must not go to sleep
    // for a whole poll interval once its claim returns.
    this.notify();
    await this.loop;
    const grace = this.options.shutdownGraceMs ?? 10_000;
    const all = Promise.all([...this.running.values()].map((entry) => entry.done));
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), grace).unref())]);
    if (timedOut) {
      // Bounded too: on PGlite a stuck handler holds the only connection, and its task is then found again
      // through its lease after the next start.
      const releases = Promise.all([...this.running.values()].map(({ task }) => releaseTask(this.options.db, task).catch(() => {})));
      await Promise.race([releases, new Promise((r) => setTimeout(r, grace).unref())]);
    }
    await this.unlisten?.().catch(() => {});
  }

  /** Tasks this worker is running now (for tests and metrics). */
  get active(): number {
    return this.running.size;
  }
}
