// What the server measures, for Prometheus (GET /metrics, routes.ts): HTTP requests by Stream operation and status
// with their latency, rate-limit rejections, the task queue (depth by state, age of the oldest pending task,
// attempts and failures by type), webhook deliveries (by state, and attempts by outcome), the database pool,
// WebSocket connections, and the process itself. Gauges of stored state are read from the database when scraped.
import client from 'prom-client';
import type { Db } from '../db/schema.js';
import { taskQueueState, type TaskQueueState } from '../tasks/service.js';
import { webhookDeliveryTotals, type DeliveryTotals } from '../webhooks/service.js';

export interface MetricsSources {
  db: Db;
  /** Connections of the database pool (PostgreSQL; PGlite has one). */
  poolState?: () => { total: number; idle: number; waiting: number };
  /** Open WebSocket connections. */
  connections?: () => number;
}

interface StoredState {
  tasks: TaskQueueState;
  deliveries: DeliveryTotals;
}

export class Metrics {
  private stored: Promise<StoredState | undefined> | undefined;
  readonly registry = new client.Registry();
  readonly httpRequests: client.Counter<'operation' | 'method' | 'status'>;
  readonly httpDuration: client.Histogram<'operation' | 'method'>;
  readonly rateLimitRejections: client.Counter<'operation' | 'caller'>;
  readonly rateLimitFallbacks: client.Counter<'reason'>;
  readonly taskAttempts: client.Counter<'type' | 'outcome'>;
  readonly webhookAttempts: client.Counter<'outcome'>;

  /** How a task attempt ended (the worker's onOutcome). */
  readonly taskOutcome = (type: string, outcome: string) => this.taskAttempts.inc({ type, outcome });
  /** How a webhook delivery attempt ended (the dispatcher's onAttempt). */
  readonly webhookOutcome = (outcome: string) => this.webhookAttempts.inc({ outcome });

  /**
   * The queue and the deliveries as stored, or undefined when the database cannot be read. A scrape collects its
   * gauges side by side: those that ask while a read is under way share it.
   */
  private storedState(): Promise<StoredState | undefined> {
    this.stored ??= Promise.all([taskQueueState(this.sources.db), webhookDeliveryTotals(this.sources.db)])
      .then(([tasks, deliveries]) => ({ tasks, deliveries }), () => undefined)
      .finally(() => {
        this.stored = undefined;
      });
    return this.stored;
  }

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    // Under their conventional names (process_*, nodejs_*), which ready-made dashboards expect.
    client.collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new client.Counter({
      name: 'stream_http_requests_total',
      help: 'HTTP requests answered, by Stream operation (the route for routes outside Stream’s API), method and status',
      labelNames: ['operation', 'method', 'status'],
      registers,
    });
    this.httpDuration = new client.Histogram({
      name: 'stream_http_request_duration_seconds',
      help: 'Time from receiving a request to answering it, by Stream operation and method',
      labelNames: ['operation', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.rateLimitRejections = new client.Counter({
      name: 'stream_rate_limit_rejections_total',
      help: 'Requests refused with 429 by the rate limits, by operation and kind of caller (server, user, anonymous, refused)',
      labelNames: ['operation', 'caller'],
      registers,
    });
    this.rateLimitFallbacks = new client.Counter({
      name: 'stream_rate_limit_local_fallbacks_total',
      help: 'Calls counted locally because the shared rate-limit counter did not answer in time (timeout) or failed (error); added to the shared count later',
      labelNames: ['reason'],
      registers,
    });
    this.taskAttempts = new client.Counter({
      name: 'stream_task_attempts_total',
      help: 'Task attempts by type and outcome (completed, retried, failed, lease_lost)',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.webhookAttempts = new client.Counter({
      name: 'stream_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, retry, failed, cancelled)',
      labelNames: ['outcome'],
      registers,
    });

    const database = this.sources;
    const stored = () => this.storedState();
    new client.Gauge({
      name: 'stream_database_up',
      help: '1 when the scrape could read the database, else 0',
      registers,
      async collect() {
        this.set((await stored()) ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'stream_tasks',
      help: 'Unfinished tasks in the queue, by state (pending, waiting: to be retried, running)',
      labelNames: ['state'],
      registers,
      async collect() {
        const state = await stored();
        if (state) for (const [name, count] of Object.entries(state.tasks.byStatus)) this.set({ state: name }, count);
      },
    });
    new client.Gauge({
      name: 'stream_tasks_oldest_pending_seconds',
      help: 'How long the oldest task due to run has waited for a worker (0 when none)',
      registers,
      async collect() {
        const state = await stored();
        if (state) this.set(state.tasks.oldestPendingSeconds);
      },
    });
    new client.Gauge({
      name: 'stream_webhook_deliveries',
      help: 'Webhook deliveries by state: pending (waiting or being sent), and failed and cancelled within the retention window',
      labelNames: ['state'],
      registers,
      async collect() {
        const state = await stored();
        if (state) for (const name of ['pending', 'failed', 'cancelled'] as const) this.set({ state: name }, state.deliveries[name]);
      },
    });
    new client.Gauge({
      name: 'stream_webhook_oldest_pending_seconds',
      help: 'Age of the oldest webhook delivery not yet delivered (0 when none)',
      registers,
      async collect() {
        const state = await stored();
        if (state) this.set(state.deliveries.oldest_pending_seconds);
      },
    });
    new client.Gauge({
      name: 'stream_db_pool_connections',
      help: 'Connections of the database pool, by state (in_use, idle, waiting: requests waiting for one)',
      labelNames: ['state'],
      registers,
      collect() {
        const pool = database.poolState?.();
        if (!pool) return;
        this.set({ state: 'in_use' }, pool.total - pool.idle);
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'waiting' }, pool.waiting);
      },
    });
    new client.Gauge({
      name: 'stream_websocket_connections',
      help: 'Open WebSocket connections (anonymous ones included)',
      registers,
      collect() {
        this.set(database.connections?.() ?? 0);
      },
    });
  }
}
