// Process configuration, read once from the environment.

export interface RateLimitConfig {
  /** Multiplier applied to Stream's published per-minute limits (default 100). */
  multiplier: number;
  /** Per-operation overrides of the per-minute limit, e.g. {QueryUsers: 50}. */
  overrides: Record<string, number>;
}

export interface Config {
  port: number;
  host: string;
  /** Port that also accepts WebSocket connections when the HTTP port is 3030 (stream-chat's rewrite). */
  wsPort: number;
  apiKey: string | undefined;
  apiSecret: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: string;
  publicUrl: string | undefined;
  rateLimit: RateLimitConfig;
  /** Task lease length; a task whose lease expires is claimable again. */
  taskLeaseMs: number;
  taskConcurrency: number;
  taskMaxAttempts: number;
  taskPollMs: number;
}

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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env.PORT, 3030, 'PORT'),
    host: env.HOST || '127.0.0.1',
    wsPort: int(env.WS_PORT, 8800, 'WS_PORT'),
    apiKey: env.STREAM_API_KEY || undefined,
    apiSecret: env.STREAM_API_SECRET || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR || './data',
    logLevel: env.LOG_LEVEL || 'info',
    publicUrl: env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : undefined,
    rateLimit: {
      multiplier: positive(env.RATE_LIMIT_MULTIPLIER, 100, 'RATE_LIMIT_MULTIPLIER'),
      overrides: overrides(env.RATE_LIMITS),
    },
    taskLeaseMs: int(env.TASK_LEASE_MS, 30_000, 'TASK_LEASE_MS'),
    taskConcurrency: int(env.TASK_CONCURRENCY, 4, 'TASK_CONCURRENCY'),
    taskMaxAttempts: int(env.TASK_MAX_ATTEMPTS, 5, 'TASK_MAX_ATTEMPTS'),
    taskPollMs: int(env.TASK_POLL_MS, 2_000, 'TASK_POLL_MS'),
  };
}
