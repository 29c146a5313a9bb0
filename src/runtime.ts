// The whole server process, assembled from one resolved Config: the database (opened and migrated, or given), the
// app's credentials, the HTTP app and its listeners, the task worker, the webhook dispatcher, housekeeping, and stop().
// server.ts adds what belongs to a process of its own (signals, the banner, exit codes); tests, the bench and
// anything embedding the server call createRuntime with overrides.
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp, type AppDeps } from './app.js';
import type { AppCredentials } from './auth/core.js';
import { resolveCredentials } from './auth/credentials.js';
import { isInMemory, type Config } from './config.js';
import { connectPortFor, listenConnect, type ConnectListener } from './connect/plugin.js';
import { purgeStaleConnections } from './connect/service.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { loadSnapshot, SnapshotLoadError, writeSnapshot } from './data/service.js';
import { migrate } from './db/migrate.js';
import { pgliteTemplate } from './db/template.js';
import { purgeExpiredExports } from './exports/service.js';
import { isLoopbackHost } from './lib/network.js';
import { purgeOldRateLimitCounts } from './rate-limits/service.js';
import { taskBatchHandlers, taskHandlers } from './tasks/handlers.js';
import { purgeOldTasks } from './tasks/service.js';
import { Worker, type WorkerOptions } from './tasks/worker.js';
import { WebhookDispatcher, type DispatcherOptions } from './webhooks/dispatcher.js';
import { cancelOrphanedWebhookDeliveries, expirePausedDeliveries, purgeOldDeliveries } from './webhooks/service.js';

const HOUSEKEEPING_INTERVAL_MS = 60_000;
/** Kept from the shutdown's grace for releasing held tasks and closing the database. */
const CLOSE_MARGIN_MS = 3_000;

/** A start that cannot go on (a configuration, a lock waited for too long); server.ts prints it and exits 1. */
export class StartupError extends Error {}

export interface RuntimeOptions {
  logger: Logger | false;
  /** An open, migrated database to serve (tests); else one is opened from the configuration and migrated. */
  database?: DatabaseHandle;
  /** The app's key and secret; else resolved from the configuration (generated and kept on the embedded default). */
  credentials?: AppCredentials;
  /** Overrides of what the configuration makes of the app's dependencies (tests: clocks, limits, options). */
  app?: Partial<AppDeps>;
  /** false: no task worker in this process; an object: worker settings to override. */
  worker?: false | Partial<WorkerOptions>;
  /** false: no webhook dispatcher in this process; an object: dispatcher settings to override. */
  webhooks?: false | Partial<DispatcherOptions>;
}

export interface Runtime {
  app: FastifyInstance;
  database: DatabaseHandle;
  credentials: AppCredentials;
  /** The credentials were generated (no STREAM_API_KEY/SECRET), and `created` on this start. */
  generated: boolean;
  created: boolean;
  /** The base URL the HTTP listener answers on, e.g. http://127.0.0.1:3030. */
  address: string;
  /** The extra WebSocket listener on WS_PORT, when there is one. */
  connectListener: ConnectListener | undefined;
  worker: Worker | undefined;
  dispatcher: WebhookDispatcher | undefined;
  /**
   * Stops in order: /readyz answers 503 for `drainMs` while requests are still served, then no new connections,
   * in-flight requests finish, held tasks finish or go back to the queue, and the database closes.
   */
  stop(options?: { drainMs?: number }): Promise<void>;
}

export async function createRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const { logger } = options;
  const log = logger || undefined;
  if (!options.database && config.databaseUrl && !(config.apiKey && config.apiSecret)) {
    throw new StartupError('STREAM_API_KEY and STREAM_API_SECRET are required when DATABASE_URL is set');
  }
  const ownsDatabase = !options.database;
  const database =
    options.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      // A new embedded database starts from the migrated template the build made, when there is one.
      loadDataDir: !config.databaseUrl && embeddedIsNew(config.dataDir) ? pgliteTemplate() : undefined,
      // Each running unit of tasks (one task, or a batch of them) holds a connection for its transaction, and its
      // lease renewals need another: leave room for both besides the requests.
      poolSize: Math.max(20, config.taskConcurrency * 2 + 8),
      statementTimeoutMs: config.statementTimeoutMs,
      poolWaitMs: config.poolWaitMs,
      warn: (message, error) => log?.warn({ err: error }, message),
      onFatal: (error) => {
        log?.fatal({ err: error }, 'the embedded database failed and cannot continue; exiting for the supervisor to restart');
        process.exit(70);
      },
    }));
  try {
    if (ownsDatabase) {
      const applied = await migrate(database.db, {
        lockWaitMs: config.migrationLockWaitMs,
        onWaiting: (waitedMs) =>
          log?.info(`waiting for another instance's migrations (the migration lock), ${Math.round(waitedMs / 1000)} s so far; giving up after MIGRATION_LOCK_WAIT_MS (${config.migrationLockWaitMs} ms)`),
      }).catch((error: unknown) => {
        throw new StartupError(`migrations failed: ${(error as Error).message}`);
      });
      if (applied.length > 0) log?.info({ applied }, 'migrations applied');
    }
    const resolved = options.credentials
      ? { credentials: options.credentials, generated: false, created: false }
      : await resolveCredentials(database.db, { apiKey: config.apiKey, apiSecret: config.apiSecret }, database.backend === 'pglite');
    return await assemble(config, options, database, resolved, ownsDatabase);
  } catch (error) {
    if (ownsDatabase) await database.close();
    throw error;
  }
}

/** Whether an embedded database has yet to be made: in memory always, on disk when its folder holds none. */
function embeddedIsNew(dataDir: string): boolean {
  if (isInMemory(dataDir)) return true;
  const pgdata = path.join(dataDir, 'pgdata');
  return !fs.existsSync(pgdata) || fs.readdirSync(pgdata).length === 0;
}

async function assemble(
  config: Config,
  options: RuntimeOptions,
  database: DatabaseHandle,
  { credentials, generated, created }: { credentials: AppCredentials; generated: boolean; created: boolean },
  ownsDatabase: boolean,
): Promise<Runtime> {
  const { logger } = options;
  const log = logger || undefined;
  const app = await buildApp({
    db: database.db,
    credentials,
    rateLimit: config.rateLimit,
    // Other instances may share a PostgreSQL database, and Stream's limits are the app's: count them there.
    sharedRateLimits: database.backend === 'postgres',
    logger,
    taskMaxAttempts: config.taskMaxAttempts,
    publicUrl: config.publicUrl,
    limits: config.limits,
    http: config.http,
    connect: config.connect,
    trustProxy: config.trustProxy,
    // With a token /metrics asks for it; without one it is served on a loopback HOST only, and there only to requests
    // from this machine (decided per request: a local reverse proxy's requests are not).
    metrics: config.metricsToken
      ? { token: config.metricsToken }
      : isLoopbackHost(config.host)
        ? { localOnly: { publicUrl: config.publicUrl } }
        : undefined,
    poolState: database.poolState,
    listening: database.listening,
    allowClear: config.allowClear,
    dashboard:
      config.dashboard.enabled === 'off' ? undefined : { sessionMs: config.dashboard.sessionMs, localOnly: config.dashboard.enabled === 'local' },
    ...options.app,
  });

  // A user file given at start is loaded before the server answers (a test double's snapshot).
  if (config.importFile) {
    try {
      const users = await loadSnapshot(app.services, config.importFile);
      log?.info({ users, file: config.importFile }, 'loaded the user file');
    } catch (error) {
      await app.close();
      if (error instanceof SnapshotLoadError || (error as NodeJS.ErrnoException).code === 'ENOENT') throw new StartupError(`IMPORT_FILE: ${(error as Error).message}`);
      throw error;
    }
  }
  const address = await app.listen({ port: config.port, host: config.host });
  // WebSocket connections on the main port; also on WS_PORT when PORT is 3030 (stream-chat's :3030 → :8800 rewrite).
  const wsPort = connectPortFor(config);
  let connectListener: ConnectListener | undefined;
  try {
    connectListener = wsPort === undefined ? undefined : await listenConnect(app, { port: wsPort, host: config.host });
  } catch (error) {
    await app.close();
    throw new StartupError(`cannot listen on WS_PORT ${wsPort}: ${(error as Error).message} (set WS_PORT to a free port, or to 0 to disable it)`);
  }

  const worker =
    options.worker === false
      ? undefined
      : new Worker({
          db: database.db,
          handlers: taskHandlers(app.services),
          batchHandlers: taskBatchHandlers(app.services),
          batchSize: config.taskBatchSize,
          listen: database.listen,
          leaseMs: config.taskLeaseMs,
          concurrency: config.taskConcurrency,
          pollMs: config.taskPollMs,
          statementTimeoutMs: config.taskStatementTimeoutMs,
          // What the shutdown leaves the tasks after the drain, less a margin for releasing them and closing.
          shutdownGraceMs: Math.max(0, config.shutdown.graceMs - config.shutdown.drainMs - CLOSE_MARGIN_MS),
          logger: log?.child({ component: 'worker' }),
          onOutcome: app.metrics?.taskOutcome,
          ...options.worker,
        });
  await worker?.start();
  // Settings changed by another instance reach this one's cache at once.
  await app.services.settings.follow(database.listen);
  const dispatcher =
    options.webhooks === false
      ? undefined
      : new WebhookDispatcher({
          db: database.db,
          // The settings cache: a change drops it at once, in this instance and (NOTIFY) every other.
          settings: (db) => app.services.settings.current(db),
          credentials: () => credentials,
          listen: database.listen,
          retry: { firstMs: config.webhooks.retryFirstMs, maxMs: config.webhooks.retryMaxMs, maxAgeMs: config.webhooks.maxAgeMs },
          concurrency: config.webhooks.concurrency,
          perHook: config.webhooks.perHook,
          logger: log?.child({ component: 'webhooks' }),
          onAttempt: app.metrics?.webhookOutcome,
          ...options.webhooks,
        });
  await dispatcher?.start();

  // Housekeeping: expired export files, presence rows left by processes that died, old deliveries and counts, and
  // tasks finished longer ago than TASK_RETENTION_HOURS.
  const housekeeping = setInterval(() => {
    const warn = (what: string) => (error: unknown) => log?.warn({ err: error }, `${what} failed`);
    purgeExpiredExports(database.db).catch(warn('purging expired exports'));
    purgeStaleConnections(app.services).catch(warn('purging stale connections'));
    purgeOldDeliveries(database.db, config.webhooks.retentionMs).catch(warn('purging old webhook deliveries'));
    cancelOrphanedWebhookDeliveries(app.services).catch(warn('cancelling deliveries of removed webhook hooks'));
    expirePausedDeliveries(app.services, config.webhooks.maxAgeMs).catch(warn('expiring deliveries of paused webhook hooks'));
    purgeOldRateLimitCounts(database.db).catch(warn('purging old rate-limit counts'));
    purgeOldTasks(database.db, config.taskRetentionMs).catch(warn('purging finished tasks'));
  }, HOUSEKEEPING_INTERVAL_MS);
  housekeeping.unref();

  let stopped: Promise<void> | undefined;
  const stop = ({ drainMs = config.shutdown.drainMs } = {}) =>
    (stopped ??= (async () => {
      app.startDraining();
      clearInterval(housekeeping);
      await new Promise((resolve) => setTimeout(resolve, drainMs));
      log?.info('shutting down: closing');
      const left = Math.max(0, config.shutdown.graceMs - drainMs - CLOSE_MARGIN_MS);
      await Promise.all([app.close(), connectListener?.close(), worker?.stop(), dispatcher?.stop(left)]);
      // Once no request or task runs, before the database closes: the users as the last of them left them.
      if (config.exportOnExitFile) {
        const users = await writeSnapshot(app.services, config.exportOnExitFile);
        log?.info({ users, file: config.exportOnExitFile }, 'wrote the users to the export-on-exit file');
      }
      if (ownsDatabase) await database.close();
    })());

  return { app, database, credentials, generated, created, address, connectListener, worker, dispatcher, stop };
}
