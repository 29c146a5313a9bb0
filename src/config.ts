// Process configuration, read once from the environment.
import { DEFAULT_LIMITS, type InputLimits } from './limits.js';
import { isLoopbackHost, parseTrustProxy, type TrustProxy } from './lib/network.js';

export interface RateLimitConfig {
  /** RATE_LIMITING=off counts nothing and refuses nothing (a test double); RATE_LIMITS names per-operation limits. */
  enabled?: boolean;
  /** Multiplier applied to Stream's published per-minute limits (DEFAULT_RATE_LIMIT_MULTIPLIER). */
  multiplier: number;
  /** Per-operation overrides of the per-minute limit, e.g. {QueryUsers: 50}. */
  overrides: Record<string, number>;
  /** Calls one user may make to one operation per minute (Stream: 60, times the multiplier). */
  userPerMinute?: number;
  /** Refused or anonymous requests one client address may make per minute, all operations together. */
  addressPerMinute?: number;
}

export interface HttpTimeouts {
  /** Longest time to receive a whole request. */
  requestTimeoutMs: number;
  /** Longest time to receive a request's headers. */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

export interface ConnectLimits {
  /** Open WebSocket connections per client address, per user (Stream allows 50), and in all. */
  perAddress: number;
  perUser: number;
  total: number;
  /** Open anonymous connections per client address, and the share of `total` anonymous connections may hold together. */
  anonymousPerAddress: number;
  anonymousShare: number;
  /** Connect attempts per client address per minute. */
  attemptsPerMinute: number;
  /** Frames a socket may send per second. */
  messagesPerSecond: number;
  /** Bytes queued for a client that does not read, beyond which its socket is closed. */
  maxBufferedBytes: number;
}

export interface Config {
  port: number;
  host: string;
  /** Port that also accepts WebSocket connections when the HTTP port is 3030 (stream-chat's rewrite). */
  wsPort: number;
  apiKey: string | undefined;
  apiSecret: string | undefined;
  databaseUrl: string | undefined;
  /** Folder of the embedded database, or MEMORY_DATA_DIR: in memory, no files at all (no lock, no credentials file). */
  dataDir: string;
  /** DELETE /operator/data empties the data: on by default in memory mode only (ALLOW_CLEAR). */
  allowClear: boolean;
  /** A user file (JSON lines, the import format) loaded at start. */
  importFile: string | undefined;
  /** Where SIGINT or SIGTERM writes a snapshot of the users (JSON lines) before the process exits. */
  exportOnExitFile: string | undefined;
  logLevel: string;
  publicUrl: string | undefined;
  rateLimit: RateLimitConfig;
  /** Task lease length; a task whose lease expires is claimable again. */
  taskLeaseMs: number;
  /** Transactions the worker runs at once: a task alone, or a batch of tasks of one type. */
  taskConcurrency: number;
  /** Most tasks of a batching type (DeactivateUsers) claimed and run in one transaction. */
  taskBatchSize: number;
  taskMaxAttempts: number;
  taskPollMs: number;
  limits: InputLimits;
  http: HttpTimeouts;
  connect: ConnectLimits;
  /** PostgreSQL statement_timeout of request connections, and of task transactions (not enforceable on PGlite). */
  statementTimeoutMs: number;
  taskStatementTimeoutMs: number;
  /** How long a request or task waits for a free connection of a full pool (PostgreSQL) before a 503. */
  poolWaitMs: number;
  /** How long a start waits for another instance's migrations (the migration lock) before exiting non-zero. */
  migrationLockWaitMs: number;
  /** Which proxies may name the client in X-Forwarded-For (TRUST_PROXY: a hop count or addresses and CIDRs). */
  trustProxy: TrustProxy;
  webhooks: WebhookConfig;
  /** Bearer token GET /metrics requires; unset: /metrics is served only when HOST is a loopback address. */
  metricsToken: string | undefined;
  /**
   * The operator dashboard at /dashboard: DASHBOARD=on (to everyone), off, or unset: on a loopback HOST served only to
   * requests from this machine (lib/network.ts isLocalRequest, decided per request), else off.
   */
  dashboard: { enabled: 'on' | 'off' | 'local'; sessionMs: number };
  /** How long finished tasks (and their results) are kept. */
  taskRetentionMs: number;
  shutdown: ShutdownConfig;
}

export interface ShutdownConfig {
  /** After SIGTERM, how long /readyz answers 503 while requests are still served, for load balancers to notice. */
  drainMs: number;
  /** The longest time from SIGTERM to exit: in-flight requests and tasks not done by then are cut off (tasks are
   * released to the queue, or found by another worker when their lease runs out). */
  graceMs: number;
}

export interface WebhookConfig {
  /** The first retry comes at most this long after a failed attempt; each later one waits up to twice as long. */
  retryFirstMs: number;
  /** The longest wait between two attempts. */
  retryMaxMs: number;
  /** How long a delivery is retried from its event before it is failed. */
  maxAgeMs: number;
  /** How long delivered and failed deliveries are kept. */
  retentionMs: number;
  /** Sends in flight at once per process, and per hook. */
  concurrency: number;
  perHook: number;
}

// Defaults, each written once: loadConfig reads the environment over them, and what runs without a Config (buildApp,
// createServiceContext, the worker and the dispatcher as tests make them) falls back to the same values.

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000 };

/** Attempts a task gets before it is failed for good. */
export const DEFAULT_TASK_MAX_ATTEMPTS = 5;
/** How long a worker or webhook dispatcher stopped on its own (outside the runtime, which computes it from
 * SHUTDOWN_GRACE_MS) waits for the work in flight. */
export const DEFAULT_STOP_GRACE_MS = 10_000;
/** Most tasks of a batching type claimed and run in one transaction. */
export const DEFAULT_TASK_BATCH_SIZE = 100;

/** Multiplier applied to Stream's published per-minute rate limits. */
export const DEFAULT_RATE_LIMIT_MULTIPLIER = 100;

export const DEFAULT_WEBHOOKS: WebhookConfig = {
  retryFirstMs: 5_000,
  retryMaxMs: 60 * 60_000,
  maxAgeMs: 24 * 60 * 60_000,
  retentionMs: 7 * 24 * 60 * 60_000,
  concurrency: 32,
  perHook: 4,
};

export const DEFAULT_CONNECT_LIMITS: ConnectLimits = {
  perAddress: 200,
  perUser: 50,
  total: 10_000,
  anonymousPerAddress: 20,
  anonymousShare: 0.5,
  attemptsPerMinute: 600,
  messagesPerSecond: 20,
  maxBufferedBytes: 1024 * 1024,
};

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function positive(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${value}"`);
  return n;
}

/** A fraction from 0 to 1. */
function share(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${name} must be a number from 0 to 1, got "${value}"`);
  return n;
}

/** RATE_LIMITS="QueryUsers=50,UpdateUsers=10" */
function overrides(value: string | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  if (!value) return result;
  for (const part of value.split(',')) {
    const [name, limit] = part.split('=').map((s) => s.trim());
    if (!name || !limit || !/^\d+$/.test(limit)) throw new Error(`RATE_LIMITS entry "${part}" must look like Operation=123`);
    result[name] = Number(limit);
  }
  return result;
}

/** DASHBOARD=on|off; anything else is a mistake worth stopping for. */
function onOff(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(on|true|1|yes)$/i.test(value)) return true;
  if (/^(off|false|0|no)$/i.test(value)) return false;
  throw new Error(`${name} must be on or off, got "${value}"`);
}

/** DATA_DIR's value for an embedded database held in memory only. */
export const MEMORY_DATA_DIR = 'memory';

/** Whether a data folder setting means memory (`memory`, or `memory://` as PGlite names it). */
export function isInMemory(dataDir: string): boolean {
  return dataDir === MEMORY_DATA_DIR || dataDir.startsWith('memory://');
}

function dashboardMode(setting: boolean | undefined, host: string): 'on' | 'off' | 'local' {
  if (setting !== undefined) return setting ? 'on' : 'off';
  return isLoopbackHost(host) ? 'local' : 'off';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const host = env.HOST || '127.0.0.1';
  const dataDir = env.DATA_DIR || './data';
  return {
    port: int(env.PORT, 3030, 'PORT'),
    host,
    wsPort: int(env.WS_PORT, 8800, 'WS_PORT'),
    apiKey: env.STREAM_API_KEY || undefined,
    apiSecret: env.STREAM_API_SECRET || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
    allowClear: onOff(env.ALLOW_CLEAR, 'ALLOW_CLEAR') ?? (isInMemory(dataDir) && !env.DATABASE_URL),
    importFile: env.IMPORT_FILE || undefined,
    exportOnExitFile: env.EXPORT_ON_EXIT || undefined,
    logLevel: env.LOG_LEVEL || 'info',
    publicUrl: env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : undefined,
    rateLimit: {
      enabled: onOff(env.RATE_LIMITING, 'RATE_LIMITING') ?? true,
      multiplier: positive(env.RATE_LIMIT_MULTIPLIER, DEFAULT_RATE_LIMIT_MULTIPLIER, 'RATE_LIMIT_MULTIPLIER'),
      overrides: overrides(env.RATE_LIMITS),
      ...(env.USER_RATE_LIMIT ? { userPerMinute: int(env.USER_RATE_LIMIT, 0, 'USER_RATE_LIMIT') } : {}),
      ...(env.ADDRESS_RATE_LIMIT ? { addressPerMinute: int(env.ADDRESS_RATE_LIMIT, 0, 'ADDRESS_RATE_LIMIT') } : {}),
    },
    taskLeaseMs: int(env.TASK_LEASE_MS, 30_000, 'TASK_LEASE_MS'),
    taskConcurrency: int(env.TASK_CONCURRENCY, 4, 'TASK_CONCURRENCY'),
    taskBatchSize: int(env.TASK_BATCH_SIZE, DEFAULT_TASK_BATCH_SIZE, 'TASK_BATCH_SIZE'),
    taskMaxAttempts: int(env.TASK_MAX_ATTEMPTS, DEFAULT_TASK_MAX_ATTEMPTS, 'TASK_MAX_ATTEMPTS'),
    taskPollMs: int(env.TASK_POLL_MS, 2_000, 'TASK_POLL_MS'),
    taskRetentionMs: positive(env.TASK_RETENTION_HOURS, 72, 'TASK_RETENTION_HOURS') * 3_600_000,
    limits: {
      setKeys: int(env.LIMIT_SET_KEYS, DEFAULT_LIMITS.setKeys, 'LIMIT_SET_KEYS'),
      keySegments: int(env.LIMIT_KEY_SEGMENTS, DEFAULT_LIMITS.keySegments, 'LIMIT_KEY_SEGMENTS'),
      customDepth: int(env.LIMIT_CUSTOM_DEPTH, DEFAULT_LIMITS.customDepth, 'LIMIT_CUSTOM_DEPTH'),
      autocompleteWords: int(env.LIMIT_AUTOCOMPLETE_WORDS, DEFAULT_LIMITS.autocompleteWords, 'LIMIT_AUTOCOMPLETE_WORDS'),
      autocompleteWordLength: int(env.LIMIT_AUTOCOMPLETE_WORD_LENGTH, DEFAULT_LIMITS.autocompleteWordLength, 'LIMIT_AUTOCOMPLETE_WORD_LENGTH'),
      filterString: int(env.LIMIT_FILTER_STRING, DEFAULT_LIMITS.filterString, 'LIMIT_FILTER_STRING'),
      clientQueryCost: positive(env.LIMIT_CLIENT_QUERY_COST, DEFAULT_LIMITS.clientQueryCost, 'LIMIT_CLIENT_QUERY_COST'),
    },
    http: {
      requestTimeoutMs: int(env.REQUEST_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs, 'REQUEST_TIMEOUT_MS'),
      headersTimeoutMs: int(env.HEADERS_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs, 'HEADERS_TIMEOUT_MS'),
      keepAliveTimeoutMs: int(env.KEEP_ALIVE_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUTS.keepAliveTimeoutMs, 'KEEP_ALIVE_TIMEOUT_MS'),
    },
    connect: {
      perAddress: int(env.WS_MAX_PER_ADDRESS, DEFAULT_CONNECT_LIMITS.perAddress, 'WS_MAX_PER_ADDRESS'),
      perUser: int(env.WS_MAX_PER_USER, DEFAULT_CONNECT_LIMITS.perUser, 'WS_MAX_PER_USER'),
      total: int(env.WS_MAX_TOTAL, DEFAULT_CONNECT_LIMITS.total, 'WS_MAX_TOTAL'),
      anonymousPerAddress: int(env.WS_MAX_ANONYMOUS_PER_ADDRESS, DEFAULT_CONNECT_LIMITS.anonymousPerAddress, 'WS_MAX_ANONYMOUS_PER_ADDRESS'),
      anonymousShare: share(env.WS_ANONYMOUS_SHARE, DEFAULT_CONNECT_LIMITS.anonymousShare, 'WS_ANONYMOUS_SHARE'),
      attemptsPerMinute: int(env.WS_CONNECTS_PER_MINUTE, DEFAULT_CONNECT_LIMITS.attemptsPerMinute, 'WS_CONNECTS_PER_MINUTE'),
      messagesPerSecond: int(env.WS_MESSAGES_PER_SECOND, DEFAULT_CONNECT_LIMITS.messagesPerSecond, 'WS_MESSAGES_PER_SECOND'),
      maxBufferedBytes: int(env.WS_MAX_BUFFERED_BYTES, DEFAULT_CONNECT_LIMITS.maxBufferedBytes, 'WS_MAX_BUFFERED_BYTES'),
    },
    statementTimeoutMs: int(env.STATEMENT_TIMEOUT_MS, 5_000, 'STATEMENT_TIMEOUT_MS'),
    taskStatementTimeoutMs: int(env.TASK_STATEMENT_TIMEOUT_MS, 60_000, 'TASK_STATEMENT_TIMEOUT_MS'),
    poolWaitMs: int(env.POOL_WAIT_MS, 5_000, 'POOL_WAIT_MS'),
    migrationLockWaitMs: int(env.MIGRATION_LOCK_WAIT_MS, 5 * 60_000, 'MIGRATION_LOCK_WAIT_MS'),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    webhooks: {
      retryFirstMs: int(env.WEBHOOK_RETRY_FIRST_MS, DEFAULT_WEBHOOKS.retryFirstMs, 'WEBHOOK_RETRY_FIRST_MS'),
      retryMaxMs: int(env.WEBHOOK_RETRY_MAX_MS, DEFAULT_WEBHOOKS.retryMaxMs, 'WEBHOOK_RETRY_MAX_MS'),
      maxAgeMs: int(env.WEBHOOK_MAX_AGE_MS, DEFAULT_WEBHOOKS.maxAgeMs, 'WEBHOOK_MAX_AGE_MS'),
      retentionMs: int(env.WEBHOOK_RETENTION_MS, DEFAULT_WEBHOOKS.retentionMs, 'WEBHOOK_RETENTION_MS'),
      concurrency: int(env.WEBHOOK_CONCURRENCY, DEFAULT_WEBHOOKS.concurrency, 'WEBHOOK_CONCURRENCY'),
      perHook: int(env.WEBHOOK_PER_HOOK, DEFAULT_WEBHOOKS.perHook, 'WEBHOOK_PER_HOOK'),
    },
    metricsToken: env.METRICS_TOKEN || undefined,
    dashboard: {
      enabled: dashboardMode(onOff(env.DASHBOARD, 'DASHBOARD'), host),
      sessionMs: positive(env.DASHBOARD_SESSION_HOURS, 8, 'DASHBOARD_SESSION_HOURS') * 3_600_000,
    },
    shutdown: {
      drainMs: int(env.SHUTDOWN_DRAIN_MS, 5_000, 'SHUTDOWN_DRAIN_MS'),
      graceMs: int(env.SHUTDOWN_GRACE_MS, 25_000, 'SHUTDOWN_GRACE_MS'),
    },
  };
}

/**
 * The warning a start logs when the dashboard is served to everyone on a non-loopback address without an https
 * PUBLIC_URL: its sign-in form takes the API secret, which would then cross the network in clear.
 */
export function plainHttpDashboardWarning(config: Pick<Config, 'host' | 'publicUrl' | 'dashboard'>): string | undefined {
  if (config.dashboard.enabled !== 'on' || isLoopbackHost(config.host) || config.publicUrl?.startsWith('https:')) return undefined;
  return (
    `DASHBOARD=on on ${config.host} without an https PUBLIC_URL: the API secret typed into the sign-in form may cross the network in clear; ` +
    'serve the dashboard through https and set PUBLIC_URL=https://…'
  );
}
