// The task section (PostgreSQL). Drain: DeactivateUsers tasks of one user each are written straight into the tasks
// table while the server is stopped (so that no HTTP enqueue is counted), then the server starts and the time from its
// readiness (/healthz 200) until every task is completed is taken, polling the table. Latency: one task at a time on
// an otherwise idle server, POST /api/v2/users/deactivate then GET /api/v2/tasks/{id} every few ms until completed.
import { TARGETS, type BenchConfig } from './config.js';
import type { Bare } from './backends.js';
import { expectStatus, type BenchClient, type HttpResponse } from './http.js';
import { log } from './lifecycle.js';
import { sleep, summarize, timeSequential, type Summary } from './measure.js';
import { check, fmtInt, fmtMs, fmtSeconds, info, type Report } from './report.js';
import type { RunningServer } from './server.js';
import { drainTasksSql, taskUserId, taskUsersSql } from './workload.js';

const WARMUP_RUNS = 20;

/** Users the task section needs: the drain's, then the latency runs' (with their warm-up). */
export function taskUserCount(config: BenchConfig): number {
  return config.drainTasks + WARMUP_RUNS + config.taskRuns;
}

/** With the server stopped: fresh users and tasks tables, the users, and the drain's tasks. */
export async function prepareTasks(config: BenchConfig, bare: Bare): Promise<void> {
  await bare('TRUNCATE users, tasks CASCADE');
  await bare(taskUsersSql(taskUserCount(config)));
  await bare(drainTasksSql(0, config.drainTasks));
  await bare('VACUUM ANALYZE users');
  await bare('VACUUM ANALYZE tasks');
  await bare('CHECKPOINT');
}

export interface DrainFigures {
  tasks: number;
  /** /healthz 200 → the poll that saw no unfinished task (bench clock). */
  seconds: number;
  /** Server clock: its "serving" log line → the last task's updated_at. */
  serverSeconds: number | undefined;
  /** Completed by the first poll after readiness (the worker starts just before the server says it serves). */
  completedAtReady: number;
}

/** Waits (polling every drainPollMs) until the server that just started has completed every task. */
export async function watchDrain(config: BenchConfig, bare: Bare, server: RunningServer): Promise<DrainFigures> {
  let completedAtReady: number | undefined;
  let end: number;
  for (;;) {
    const pollStart = performance.now();
    const { rows } = await bare(
      `SELECT count(*) FILTER (WHERE status <> 'completed')::int AS unfinished, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM tasks`,
    );
    const { unfinished, failed } = rows[0] as { unfinished: number; failed: number };
    if (failed > 0) throw new Error(`${failed} tasks failed`);
    completedAtReady ??= config.drainTasks - unfinished;
    if (unfinished === 0) {
      end = performance.now();
      break;
    }
    if (performance.now() - server.process.readyAt > 300_000) throw new Error(`${unfinished} tasks still unfinished after 300 s`);
    const wait = config.drainPollMs - (performance.now() - pollStart);
    if (wait > 0) await sleep(wait);
  }
  const { rows } = await bare(
    `SELECT count(*)::int AS n, (extract(epoch FROM max(updated_at)) * 1000)::float8 AS last_ms FROM tasks WHERE status = 'completed'`,
  );
  const { n, last_ms } = rows[0] as { n: number; last_ms: number };
  if (n !== config.drainTasks) throw new Error(`drain: ${n} of ${config.drainTasks} tasks completed`);
  const deactivated = (await bare(`SELECT count(*)::int AS n FROM users WHERE deactivated_at IS NOT NULL`)).rows[0].n as number;
  if (deactivated !== config.drainTasks) throw new Error(`drain: ${deactivated} users deactivated, expected ${config.drainTasks}`);
  const serving = server.process.servingLogTime;
  return {
    tasks: config.drainTasks,
    seconds: (end - server.process.readyAt) / 1000,
    serverSeconds: serving === undefined ? undefined : (last_ms - serving) / 1000,
    completedAtReady,
  };
}

// --- latency ---------------------------------------------------------------------------------------------------

interface TaskState {
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
function taskState(response: HttpResponse): TaskState {
  const text = response.body.toString('utf8');
  const status = /"status":"(\w+)"/.exec(text)?.[1];
  const created = /"created_at":(\d+)/.exec(text)?.[1];
  const updated = /"updated_at":(\d+)/.exec(text)?.[1];
  if (!status || !created || !updated) throw new Error(`unexpected GetTask answer: ${text.slice(0, 300)}`);
  if (status === 'failed') throw new Error(`a task failed: ${text.slice(0, 500)}`);
  return { status, createdNs: BigInt(created), updatedNs: BigInt(updated) };
}

async function getTask(client: BenchClient, id: string): Promise<TaskState> {
  return taskState(expectStatus(await client.request('GET', `/api/v2/tasks/${id}`), 200, 'GET /api/v2/tasks/{id}'));
}

async function enqueueDeactivation(client: BenchClient, userId: string): Promise<string> {
  const body = Buffer.from(JSON.stringify({ user_ids: [userId] }));
  const response = expectStatus(await client.request('POST', '/api/v2/users/deactivate', {}, body), 201, 'POST /api/v2/users/deactivate');
  const taskId = (JSON.parse(response.body.toString('utf8')) as { task_id?: unknown }).task_id;
  if (typeof taskId !== 'string') throw new Error(`POST /api/v2/users/deactivate: no task_id in ${response.body.toString('utf8')}`);
  return taskId;
}

const nsToMs = (ns: bigint) => Number(ns) / 1e6;

interface Run {
  total: number;
  enqueue: number;
  server: number;
  polls: number;
  taskId: string;
}

/** One deactivation, polled every `pollMs` (poll start to poll start; back to back when a poll takes longer). */
async function deactivateAndWait(client: BenchClient, userId: string, pollMs: number, timeoutMs = 30_000): Promise<Run> {
  const t0 = performance.now();
  const taskId = await enqueueDeactivation(client, userId);
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

export interface LatencyFigures {
  runs: number;
  pollMs: number;
  roundTrip: Summary;
  enqueue: Summary;
  server: Summary;
  pollsPerRun: number;
  healthz: Summary;
  getTask: Summary;
}

/** Sequential deactivations of the users after the drain's, each timed until its task is seen completed. */
export async function benchTaskLatency(config: BenchConfig, client: BenchClient, bare: Bare): Promise<LatencyFigures> {
  const ids = Array.from({ length: WARMUP_RUNS + config.taskRuns }, (_, k) => taskUserId(config.drainTasks + k));
  let lastCompleted = '';
  for (const id of ids.slice(0, WARMUP_RUNS)) lastCompleted = (await deactivateAndWait(client, id, config.taskPollMs)).taskId;
  const healthz = await timeSequential(config.taskRuns, 30, async () => expectStatus(await client.request('GET', '/healthz'), 200, 'GET /healthz'));
  const getTaskLatency = await timeSequential(config.taskRuns, 30, () => getTask(client, lastCompleted));
  log(`  tasks: ${config.taskRuns} sequential deactivations, each polled every ${config.taskPollMs} ms until completed…`);
  const runs: Run[] = [];
  for (const id of ids.slice(WARMUP_RUNS)) runs.push(await deactivateAndWait(client, id, config.taskPollMs));
  const deactivated = (await bare(`SELECT count(*)::int AS n FROM users WHERE deactivated_at IS NOT NULL`)).rows[0].n as number;
  if (deactivated !== config.drainTasks + ids.length) throw new Error(`${deactivated} users deactivated, expected ${config.drainTasks + ids.length}`);
  return {
    runs: runs.length,
    pollMs: config.taskPollMs,
    roundTrip: summarize(runs.map((r) => r.total)),
    enqueue: summarize(runs.map((r) => r.enqueue)),
    server: summarize(runs.map((r) => r.server)),
    pollsPerRun: runs.reduce((sum, r) => sum + r.polls, 0) / runs.length,
    healthz,
    getTask: getTaskLatency,
  };
}

export function reportTasks(report: Report, drain: DrainFigures, latency: LatencyFigures, config: BenchConfig) {
  const section = report.section(
    'Tasks, PostgreSQL',
    `Drain: ${fmtInt(drain.tasks)} DeactivateUsers tasks (one user each, users pre-created) written into the tasks table while ` +
      `the server was stopped; timed from the server's readiness (GET /healthz 200) until a poll of the table (every ` +
      `${config.drainPollMs} ms) finds all completed; one server process, default TASK_CONCURRENCY. ` +
      `Latency: ${latency.runs} sequential POST /api/v2/users/deactivate (one user each) on an otherwise idle server, each ` +
      `task polled with GET /api/v2/tasks/{id} every ${latency.pollMs} ms until completed (${latency.pollsPerRun.toFixed(1)} polls per task).`,
  );
  const rate = drain.tasks / drain.seconds;
  section.checks.push(
    check('drain rate (tasks/s)', rate, fmtInt(rate), '≥', TARGETS.drainTasksPerSecond, fmtInt,
      `${fmtSeconds(drain.seconds)} for ${fmtInt(drain.tasks)}` +
        (drain.serverSeconds !== undefined ? `; server clock (serving log line → last updated_at) ${fmtSeconds(drain.serverSeconds)}` : '') +
        `; ${fmtInt(drain.completedAtReady)} done at the first poll`),
    check('enqueue → completed p50 (ms)', latency.roundTrip.p50, fmtMs(latency.roundTrip.p50), '≤', TARGETS.taskLatencyP50Ms, fmtMs, 'as the client sees it'),
    check('enqueue → completed p99 (ms)', latency.roundTrip.p99, fmtMs(latency.roundTrip.p99), '≤', TARGETS.taskLatencyP99Ms, fmtMs),
    info('  of which the POST round trip p50 / p99 (ms)', `${fmtMs(latency.enqueue.p50)} / ${fmtMs(latency.enqueue.p99)}`),
    info('  server clock created_at → updated_at p50 / p99 (ms)', `${fmtMs(latency.server.p50)} / ${fmtMs(latency.server.p99)}`),
    info('GET /healthz round trip p50 / p99 (ms)', `${fmtMs(latency.healthz.p50)} / ${fmtMs(latency.healthz.p99)}`, 'HTTP alone'),
    info('GET /api/v2/tasks/{id} (completed task) p50 / p99 (ms)', `${fmtMs(latency.getTask.p50)} / ${fmtMs(latency.getTask.p99)}`, 'one poll'),
  );
  return section;
}
