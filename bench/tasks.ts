// The task section: how long a bulk deactivation takes from the request to its task being completed, as a client
// polling GET /api/v2/tasks/{id} sees it, next to the bare HTTP round trip; and how many tasks one server process
// drains per second.
import type { BenchClient, HttpResponse } from './http.js';
import { expectStatus } from './http.js';
import { runConcurrently, sleep, summarize, timeSequential, type Summary } from './measure.js';

export interface TaskState {
  status: string;
  /** The task's created_at and updated_at, in nanoseconds (the v2 wire format). */
  createdNs: bigint;
  updatedNs: bigint;
}

/**
 * Reads status and the task's own timestamps from a GetTask answer. Read as text: the nanosecond integers lose
 * precision in JSON.parse, and the task's fields come first in the body (before `result`, whose users have
 * timestamps too).
 */
export function taskState(response: HttpResponse): TaskState {
  const text = response.body.toString('utf8');
  const status = /"status":"(\w+)"/.exec(text)?.[1];
  const created = /"created_at":(\d+)/.exec(text)?.[1];
  const updated = /"updated_at":(\d+)/.exec(text)?.[1];
  if (!status || !created || !updated) throw new Error(`unexpected GetTask answer: ${text.slice(0, 300)}`);
  if (status === 'failed') throw new Error(`a task failed: ${text.slice(0, 500)}`);
  return { status, createdNs: BigInt(created), updatedNs: BigInt(updated) };
}

export async function getTask(client: BenchClient, id: string): Promise<TaskState> {
  return taskState(expectStatus(await client.request('GET', `/api/v2/tasks/${id}`), 200, 'GET /api/v2/tasks/{id}'));
}

export function deactivateBody(userId: string): Buffer {
  return Buffer.from(JSON.stringify({ user_ids: [userId] }));
}

export async function enqueueDeactivation(client: BenchClient, body: Buffer): Promise<string> {
  const response = expectStatus(await client.request('POST', '/api/v2/users/deactivate', {}, body), 201, 'POST /api/v2/users/deactivate');
  const taskId = (JSON.parse(response.body.toString('utf8')) as { task_id?: unknown }).task_id;
  if (typeof taskId !== 'string') throw new Error(`POST /api/v2/users/deactivate: no task_id in ${response.body.toString('utf8')}`);
  return taskId;
}

const nsToMs = (ns: bigint) => Number(ns) / 1e6;

interface Run {
  /** POST sent → a poll answered `completed` (ms). */
  total: number;
  /** The POST's round trip alone (ms). */
  enqueue: number;
  /** Server clock: the task's updated_at − created_at (ms). */
  server: number;
  polls: number;
  taskId: string;
}

/** One deactivation, polled every `pollMs` (poll start to poll start; back to back when a poll takes longer). */
async function deactivateAndWait(client: BenchClient, userId: string, pollMs: number, timeoutMs: number): Promise<Run> {
  const body = deactivateBody(userId);
  const t0 = performance.now();
  const taskId = await enqueueDeactivation(client, body);
  const enqueued = performance.now();
  let polls = 0;
  for (;;) {
    const pollStart = performance.now();
    const state = await getTask(client, taskId);
    polls++;
    if (state.status === 'completed') {
      return { total: performance.now() - t0, enqueue: enqueued - t0, server: nsToMs(state.updatedNs - state.createdNs), polls, taskId };
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`task ${taskId} still ${state.status} after ${timeoutMs} ms`);
    const wait = pollMs - (performance.now() - pollStart);
    if (wait > 0) await sleep(wait);
  }
}

export interface DrainObservation {
  /** performance.now() when the client saw the last of the tasks completed. */
  observedAt: number;
  /** Server clock: first task's created_at to the last task's updated_at (s). */
  serverSeconds: number;
  /** Tasks already completed when the last enqueue was answered, when the watcher can tell cheaply. */
  completedAtEnqueueEnd?: number;
  /** How the watcher saw completion, for the report. */
  how: string;
}

/** Waits until all the tasks are completed (called right after the last enqueue was answered). */
export type DrainWatcher = (taskIds: string[]) => Promise<DrainObservation>;

/**
 * Through the API only (PGlite, whose data dir the server holds): polls the task enqueued last every `pollMs`; once it
 * is completed, checks every task (untimed unless one is not completed yet, which is then polled until it is).
 */
export function apiDrainWatcher(client: BenchClient, pollMs: number, concurrency: number, timeoutMs = 120_000): DrainWatcher {
  return async (taskIds) => {
    const start = performance.now();
    const last = taskIds[taskIds.length - 1]!;
    let observedAt: number;
    for (;;) {
      const pollStart = performance.now();
      const state = await getTask(client, last);
      if (state.status === 'completed') {
        observedAt = performance.now();
        break;
      }
      if (performance.now() - start > timeoutMs) throw new Error(`task ${last} still ${state.status} after ${timeoutMs} ms`);
      const wait = pollMs - (performance.now() - pollStart);
      if (wait > 0) await sleep(wait);
    }
    const states = new Map<string, TaskState>();
    let pending: string[] = [];
    await runConcurrently(
      'task check',
      taskIds.map((id) => async () => {
        const state = await getTask(client, id);
        if (state.status === 'completed') states.set(id, state);
        else pending.push(id);
      }),
      concurrency,
    );
    const stragglers = pending.length;
    while (pending.length > 0) {
      if (performance.now() - start > timeoutMs) throw new Error(`${pending.length} tasks not completed after ${timeoutMs} ms`);
      await sleep(pollMs);
      const still: string[] = [];
      for (const id of pending) {
        const state = await getTask(client, id);
        if (state.status === 'completed') states.set(id, state);
        else still.push(id);
      }
      pending = still;
      if (pending.length === 0) observedAt = performance.now();
    }
    let first = -1n;
    let lastUpdate = -1n;
    for (const state of states.values()) {
      if (first < 0n || state.createdNs < first) first = state.createdNs;
      if (state.updatedNs > lastUpdate) lastUpdate = state.updatedNs;
    }
    return {
      observedAt,
      serverSeconds: nsToMs(lastUpdate - first) / 1000,
      how:
        `GET /api/v2/tasks/{id} of the last task enqueued every ${pollMs} ms, then of every task` +
        (stragglers > 0 ? ` (${stragglers} not yet completed then, polled until they were)` : ' (all completed)'),
    };
  };
}

/** Checks through queryUsers that the users were deactivated. */
export async function checkDeactivated(client: BenchClient, userIds: string[]): Promise<void> {
  for (let i = 0; i < userIds.length; i += 100) {
    const chunk = userIds.slice(i, i + 100);
    const payload = { filter_conditions: { id: { $in: chunk } }, include_deactivated_users: true, limit: 100 };
    const response = expectStatus(await client.request('GET', '/api/v2/users', { payload: JSON.stringify(payload) }), 200, 'queryUsers (deactivation check)');
    const users = (JSON.parse(response.body.toString('utf8')) as { users: Array<{ id: string; deactivated_at?: unknown }> }).users;
    const deactivated = users.filter((user) => user.deactivated_at !== undefined && user.deactivated_at !== null).length;
    if (users.length !== chunk.length || deactivated !== chunk.length) {
      throw new Error(`deactivation check: of ${chunk.length} users, ${users.length} found and ${deactivated} deactivated`);
    }
  }
}

export interface TaskFigures {
  runs: number;
  pollMs: number;
  /** POST → completed seen by polling (ms). */
  roundTrip: Summary;
  enqueue: Summary;
  /** Server clock: created_at (the enqueuing transaction) → updated_at (the handler's transaction), ms. */
  server: Summary;
  pollsPerRun: number;
  healthz: Summary;
  getTask: Summary;
  /** Set when the worker plainly did not wake on NOTIFY (the warm-up took about the poll interval). */
  slowWake?: string;
  drain: {
    tasks: number;
    concurrency: number;
    enqueueSeconds: number;
    /** First enqueue sent → all tasks seen completed. */
    seconds: number;
    tasksPerSecond: number;
    serverSeconds: number;
    completedAtEnqueueEnd?: number;
    how: string;
  };
}

export interface TaskBenchOptions {
  client: BenchClient;
  /** Distinct existing users: warmup + runs + drain of them are deactivated, one per task. */
  userIds: string[];
  warmup: number;
  runs: number;
  drain: number;
  pollMs: number;
  concurrency: number;
  watchDrain: DrainWatcher;
  log: (line: string) => void;
}

export async function benchTasks(o: TaskBenchOptions): Promise<TaskFigures> {
  if (o.warmup < 1) throw new Error('the task benchmark needs at least one warm-up run (its task is the GET baseline)');
  const needed = o.warmup + o.runs + o.drain;
  if (o.userIds.length < needed) throw new Error(`the task benchmark needs ${needed} users, has ${o.userIds.length}`);
  const ids = { warmup: o.userIds.slice(0, o.warmup), runs: o.userIds.slice(o.warmup, o.warmup + o.runs), drain: o.userIds.slice(o.warmup + o.runs, needed) };
  const timeoutMs = 30_000;

  // Warm-up, which also tells whether the worker wakes on NOTIFY: if not, each run waits for its poll (2 s by
  // default), and the full set of runs would take many minutes, so it is cut short (and reported).
  const warm: number[] = [];
  let lastCompleted = '';
  for (const id of ids.warmup) {
    const run = await deactivateAndWait(o.client, id, o.pollMs, timeoutMs);
    warm.push(run.total);
    lastCompleted = run.taskId;
  }
  let runs = ids.runs;
  let slowWake: string | undefined;
  const warmMedian = summarize(warm).p50;
  if (warm.length > 0 && warmMedian > 250) {
    slowWake = `warm-up median ${warmMedian.toFixed(0)} ms: the worker does not seem to wake on NOTIFY; runs cut to ${Math.min(runs.length, 20)}`;
    o.log(`  WARNING: ${slowWake}`);
    runs = runs.slice(0, 20);
  }

  // What plain HTTP costs, for comparison: a route that touches nothing, and the poll itself on a completed task.
  const healthz = await timeSequential(o.runs, 30, async () => expectStatus(await o.client.request('GET', '/healthz'), 200, 'GET /healthz'));
  const getTaskLatency = await timeSequential(o.runs, 30, () => getTask(o.client, lastCompleted));

  o.log(`  tasks: ${runs.length} sequential deactivations, each polled every ${o.pollMs} ms until completed…`);
  const results: Run[] = [];
  for (const id of runs) results.push(await deactivateAndWait(o.client, id, o.pollMs, timeoutMs));

  o.log(`  tasks: draining ${o.drain} DeactivateUsers tasks enqueued over ${o.concurrency} connections…`);
  const bodies = ids.drain.map(deactivateBody);
  const taskIds: string[] = [];
  const t0 = performance.now();
  const { seconds: enqueueSeconds } = await runConcurrently(
    'enqueue',
    bodies.map((body) => async () => taskIds.push(await enqueueDeactivation(o.client, body))),
    o.concurrency,
  );
  const observed = await o.watchDrain(taskIds);
  const seconds = (observed.observedAt - t0) / 1000;

  await checkDeactivated(o.client, [...ids.warmup, ...runs, ...ids.drain]);

  return {
    runs: results.length,
    pollMs: o.pollMs,
    roundTrip: summarize(results.map((r) => r.total)),
    enqueue: summarize(results.map((r) => r.enqueue)),
    server: summarize(results.map((r) => r.server)),
    pollsPerRun: results.reduce((sum, r) => sum + r.polls, 0) / Math.max(1, results.length),
    healthz,
    getTask: getTaskLatency,
    slowWake,
    drain: {
      tasks: o.drain,
      concurrency: o.concurrency,
      enqueueSeconds,
      seconds,
      tasksPerSecond: o.drain / seconds,
      serverSeconds: observed.serverSeconds,
      completedAtEnqueueEnd: observed.completedAtEnqueueEnd,
      how: observed.how,
    },
  };
}
