// The package's entry point: startServer() runs this server inside the caller's process, as a test double for
// integration tests (README "Use it in your tests"). Its types stand alone, so that the published declarations are
// this file's only.
import { loadConfig } from './config.js';
import { clearData } from './data/service.js';
import { openProcessLogger } from './http/logging.js';
import { createRuntime } from './runtime.js';

export interface StartServerOptions {
  /** Port to listen on; default 0, a free port. */
  port?: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Folder of the embedded database; default 'memory': in memory, no files at all. */
  dataDir?: string;
  /** A PostgreSQL database to use instead of the embedded one (apiKey and apiSecret are then required). */
  databaseUrl?: string;
  /** The app's key and secret; default generated for this server. */
  apiKey?: string;
  apiSecret?: string;
  /** A user file (JSON lines, as GET /operator/users.jsonl writes them) loaded at start. */
  importFile?: string;
  /** Log level (pino's, to stderr); default 'warn'. */
  logLevel?: string;
  /** Count and enforce rate limits; default false. */
  rateLimiting?: boolean;
  /** Any other configuration value, by its environment variable's name (README "Configuration"), e.g.
   * `{ RATE_LIMITS: 'QueryUsers=10' }`. The process's own environment is not read. */
  env?: Record<string, string>;
}

export interface StreamUsersServer {
  /** Base URL for the SDKs: node-sdk's `basePath`, stream-chat's `baseURL`. */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Empties the data (as DELETE /operator/data does); `settings: true` also resets the app settings. */
  clear(options?: { settings?: boolean }): Promise<void>;
  /** Stops the server and releases its database. */
  stop(): Promise<void>;
}

/** Starts a server; several in one process are independent of each other. */
export async function startServer(options: StartServerOptions = {}): Promise<StreamUsersServer> {
  const env: Record<string, string> = {
    PORT: '0',
    // stream-chat's :3030 → :8800 rewrite needs WS_PORT only on port 3030; a test double never takes a fixed port.
    WS_PORT: '0',
    DATA_DIR: 'memory',
    LOG_LEVEL: 'warn',
    RATE_LIMITING: 'off',
    SHUTDOWN_DRAIN_MS: '0',
    ...options.env,
    ...defined({
      PORT: options.port?.toString(),
      HOST: options.host,
      DATA_DIR: options.dataDir,
      DATABASE_URL: options.databaseUrl,
      STREAM_API_KEY: options.apiKey,
      STREAM_API_SECRET: options.apiSecret,
      IMPORT_FILE: options.importFile,
      LOG_LEVEL: options.logLevel,
      RATE_LIMITING: options.rateLimiting === undefined ? undefined : options.rateLimiting ? 'on' : 'off',
    }),
  };
  const config = loadConfig(env);
  const logger = openProcessLogger(config.logLevel, 2);
  const runtime = await createRuntime(config, { logger });
  return {
    url: runtime.address,
    apiKey: runtime.credentials.apiKey,
    apiSecret: runtime.credentials.apiSecret,
    async clear({ settings = false } = {}) {
      // In-process, whatever ALLOW_CLEAR says (that governs the route): the code that started the server may empty it.
      await clearData(runtime.app.services, { settings });
    },
    stop: () => runtime.stop({ drainMs: 0 }),
  };
}

function defined(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
