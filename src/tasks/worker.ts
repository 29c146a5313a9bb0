// The worker loop inside each server process: wakes on NOTIFY (with a polling fallback), claims tasks, runs each
// handler in a transaction that also records completion (fenced on the lease), renews leases of long tasks,
// retries failures with exponential backoff, and on shutdown stops claiming and finishes or releases what it holds.
// Task types with a batch handler are claimed and run many at a time: one transaction applies all their effects and
// records all their completions, which is what makes a backlog of small tasks drain quickly. A batch that fails is
// run again one task at a time, so that one bad task cannot fail its neighbours.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { DEFAULT_STOP_GRACE_MS, DEFAULT_TASK_BATCH_SIZE } from '../config.js';
import type { Db, Tx } from '../db/schema.js';
import { StreamError } from '../http/errors.js';
import {
  claimTasks,
  failAttempt,
  releaseTask,
  renewLease,
  renewLeases,
  runAndComplete,
  runAndCompleteAll,
  TASKS_CHANNEL,
  type ClaimedTask,
} from './store.js';
import { Wakeup, type Listen } from '../lib/wakeup.js';

/** A task handler: applies the task's effects through `trx` and returns its result. Must be idempotent. */
export type TaskHandler = (trx: Tx, task: ClaimedTask) => Promise<unknown>;

/**
 * Runs the effects of several tasks of one type through `trx` and returns their results, in order: each exactly what
 * the type's TaskHandler would have returned had the tasks run one after another in that order. Throwing is always
 * safe (the batch is rolled back and its tasks run one at a time), e.g. for a batch it cannot reproduce that for.
 */
export type BatchTaskHandler = (trx: Tx, tasks: readonly ClaimedTask[]) => Promise<readonly unknown[]>;

export interface WorkerOptions {
  db: Db;
  handlers: Record<string, TaskHandler>;
  /** Types that also run in batches; each still needs its TaskHandler, for the tasks that run alone. */
  batchHandlers?: Record<string, BatchTaskHandler>;
  /** Most tasks in one batch: one transaction holds a connection (PGlite's only one) while it runs. */
  batchSize?: number;
  /** Subscribes to NOTIFY; returns an unsubscribe function. */
  listen?: Listen;
  leaseMs: number;
  /** Most units of work (a task alone, or a batch) running at once, each in a transaction of its own. */
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
  /** Units of work running (a batch counts once), against `concurrency`. */
  private units = 0;
  /** The last round claimed less than it might have for want of free units. */
  private saturated = false;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();

  constructor(private readonly options: WorkerOptions) {
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  async start(): Promise<void> {
    await this.wakeup.listen(this.options.listen, TASKS_CHANNEL, this.options.logger, 'the worker');
    this.loop = this.run();
  }

  /** Wakes the loop (a task was enqueued or a slot freed). */
  notify(): void {
    this.wakeup.notify();
  }

  private async run(): Promise<void> {
    const batchTypes = Object.keys(this.options.batchHandlers ?? {});
    const batchSize = Math.max(1, this.options.batchSize ?? DEFAULT_TASK_BATCH_SIZE);
    while (!this.stopping) {
      // Let pending I/O run between rounds: PGlite answers queries without returning to the event loop, so a worker
      // draining a backlog would otherwise keep HTTP requests waiting until the queue is empty.
      await new Promise((resolve) => setImmediate(resolve));
      this.wakeup.startRound();
      this.saturated = false;
      let full = false;
      // A batch of each batching type, one unit each, and tasks of the other types, one unit each. With room for
      // both kinds the claims go at once, so that a task of either kind starts without waiting for the other (the
      // other types then leave a unit to each batch claim in flight). Without, the batch claims go first, and the
      // other types get whatever units they left unused: a batch claim that finds nothing must not keep the other
      // types waiting for the next wake-up.
      const claims: Promise<void>[] = [];
      const free = () => this.options.concurrency - this.units;
      const atOnce = free() > batchTypes.length;
      for (const type of batchTypes) {
        if (free() <= 0) break;
        const claim = claimTasks(this.options.db, this.owner, batchSize, this.options.leaseMs, { only: [type] }).then((claimed) => {
          this.startUnit(type, claimed);
          full ||= claimed.length === batchSize;
        });
        claims.push(claim);
        if (!atOnce) await claim.catch(() => {}); // a failure is logged with the others', below
      }
      const others = free() - (atOnce ? batchTypes.length : 0);
      if (others > 0) {
        claims.push(
          claimTasks(this.options.db, this.owner, others, this.options.leaseMs, { except: batchTypes }).then((claimed) => {
            for (const task of claimed) this.startUnit(task.type, [task]);
            full ||= claimed.length === others;
          }),
        );
      }
      // Read in the same synchronous stretch as `units`: a unit that ends later knows to wake the loop.
      if (others <= 0) this.saturated = true;
      for (const outcome of await Promise.allSettled(claims)) {
        if (outcome.status === 'rejected' && !this.stopping) this.options.logger?.error({ err: outcome.reason }, 'claiming tasks failed');
      }
      if (this.stopping) break;
      // A full claim suggests more work waiting: go round again at once.
      if (full) continue;
      await this.wakeup.sleep(this.options.pollMs);
    }
  }

  /** Runs claimed tasks as one unit: a batch when there are several that batch, else each alone, in turn. */
  private startUnit(type: string, tasks: readonly ClaimedTask[]): void {
    if (tasks.length === 0) return;
    this.units++;
    // The unit records its tasks' failures itself, and logs what it cannot record (the database gone while
    // recording one); the lease then runs out and the task is claimed again. Anything else is logged here, so that
    // no rejection goes unhandled.
    const done = this.runUnit(type, tasks)
      .catch((error) => this.options.logger?.error({ err: error, type }, 'a unit of tasks failed'))
      .finally(() => {
        this.units--;
        for (const task of tasks) this.running.delete(task.id);
        // A freed unit matters only to a round that had none to claim with (new tasks wake the loop themselves).
        if (this.saturated) this.notify();
      });
    for (const task of tasks) this.running.set(task.id, { task, done });
  }

  private async runUnit(type: string, tasks: readonly ClaimedTask[]): Promise<void> {
    const { db, logger, leaseMs } = this.options;
    const batchHandler = this.options.batchHandlers?.[type];
    // Tasks past their last attempt go alone: they are failed, not run.
    const batchable = batchHandler ? tasks.filter((task) => task.attempts <= task.max_attempts) : [];
    const alone = batchable.length > 1 ? tasks.filter((task) => !batchable.includes(task)) : [...tasks];
    // One renewal for the whole unit: it also keeps the leases of tasks that wait their turn after a failed batch.
    const renewal =
      tasks.length > 1
        ? setInterval(() => {
            renewLeases(db, tasks, leaseMs).catch((error) => logger?.warn({ err: error }, 'lease renewal of a batch failed'));
          }, Math.max(50, Math.floor(leaseMs / 3)))
        : undefined;
    try {
      if (batchable.length > 1 && !(await this.executeBatch(batchHandler!, batchable))) alone.push(...batchable);
      for (const task of alone) {
        await this.execute(task).catch((error) => logger?.error({ err: error, task: task.id }, 'a task attempt could not be recorded'));
      }
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * Runs a batch in one transaction; true when it completed. False when it must be run again one task at a time:
   * its handler failed, or a task was fenced off (its effects, with everyone's, were rolled back).
   */
  private async executeBatch(handler: BatchTaskHandler, tasks: ClaimedTask[]): Promise<boolean> {
    const { db, logger } = this.options;
    await new Promise((resolve) => setImmediate(resolve)); // see run()
    try {
      const completed = await runAndCompleteAll(db, tasks, (trx) => handler(trx, tasks), { statementTimeoutMs: this.options.statementTimeoutMs });
      if (completed) {
        logger?.debug({ tasks: tasks.length, type: tasks[0]!.type }, 'batch completed');
        for (const task of tasks) this.options.onOutcome?.(task.type, 'completed');
        return true;
      }
      logger?.debug({ tasks: tasks.length }, 'a task of the batch was fenced off; running them one at a time');
    } catch (error) {
      logger?.debug({ err: error, tasks: tasks.length }, 'batch failed; running its tasks one at a time');
    }
    return false;
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
    const grace = this.options.shutdownGraceMs ?? DEFAULT_STOP_GRACE_MS;
    const all = Promise.all([...this.running.values()].map((entry) => entry.done));
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), grace).unref())]);
    if (timedOut) {
      // Bounded too: on PGlite a stuck handler holds the only connection, and its task is then found again
      // through its lease after the next start.
      const releases = Promise.all([...this.running.values()].map(({ task }) => releaseTask(this.options.db, task).catch(() => {})));
      await Promise.race([releases, new Promise((r) => setTimeout(r, grace).unref())]);
    }
    await this.wakeup.close();
  }

  /** Tasks this worker holds now, running or waiting their turn in a unit (for tests and metrics). */
  get active(): number {
    return this.running.size;
  }
}
