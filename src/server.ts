// Process start: configuration, database, migrations, HTTP listener, graceful shutdown.
import pino from 'pino';
import { buildApp } from './app.js';
import { loadConfig, plainHttpDashboardWarning } from './config.js';
import { isLoopbackHost } from './lib/network.js';
import { connectPortFor, listenConnect } from './connect/plugin.js';
import { purgeStaleConnections } from './connect/service.js';
import type { AppCredentials } from './auth/core.js';
import { writeCredentialsFile } from './auth/credentials-file.js';
import { resolveCredentials } from './auth/credentials.js';
import { signServerToken } from './auth/jwt.js';
import { openDatabase } from './db/database.js';
import { DataDirLockedError } from './db/lock.js';
import { migrate } from './db/migrate.js';
import { taskBatchHandlers, taskHandlers } from './tasks/handlers.js';
import { Worker } from './tasks/worker.js';
import { purgeOldTasks } from './tasks/service.js';
import { purgeExpiredExports } from './exports/service.js';
import { logSerializers } from './http/logging.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { purgeOldDeliveries } from './webhooks/service.js';
import { purgeOldRateLimitCounts } from './rate-limits/service.js';

const HOUSEKEEPING_INTERVAL_MS = 60_000;
const BANNER_TOKEN_SECONDS = 3600;

async function main() {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, serializers: logSerializers });
  if (config.databaseUrl && !(config.apiKey && config.apiSecret)) {
    logger.fatal('STREAM_API_KEY and STREAM_API_SECRET are required when DATABASE_URL is set');
    process.exit(1);
  }

  let database;
  try {
    // Each running unit of tasks (one task, or a batch of them) holds a connection for its transaction, and its
    // lease renewals need another: leave room for both besides the requests.
    database = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: Math.max(20, config.taskConcurrency * 2 + 8),
      statementTimeoutMs: config.statementTimeoutMs,
      warn: (message, error) => logger.warn({ err: error }, message),
      onFatal: (error) => {
        logger.fatal({ err: error }, 'the embedded database failed and cannot continue; exiting for the supervisor to restart');
        process.exit(70);
      },
    });
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      logger.fatal(error.message);
      process.exit(1);
    }
    throw error;
  }
  const applied = await migrate(database.db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const { credentials, generated, created } = await resolveCredentials(
    database.db,
    { apiKey: config.apiKey, apiSecret: config.apiSecret },
    database.backend === 'pglite',
  );

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
    dashboard:
      config.dashboard.enabled === 'off' ? undefined : { sessionMs: config.dashboard.sessionMs, localOnly: config.dashboard.enabled === 'local' },
  });
  const address = await app.listen({ port: config.port, host: config.host });
  // WebSocket connections on the main port; also on WS_PORT when PORT is 3030 (stream-chat's :3030 → :8800 rewrite).
  const wsPort = connectPortFor(config);
  let wsListener;
  try {
    wsListener = wsPort === undefined ? undefined : await listenConnect(app, { port: wsPort, host: config.host });
  } catch (error) {
    logger.fatal(`cannot listen on WS_PORT ${wsPort}: ${(error as Error).message} (set WS_PORT to a free port, or to 0 to disable it)`);
    await app.close();
    await database.close();
    process.exit(1);
  }
  if (wsListener) logger.info(`accepting WebSocket connections also on ws://${config.host}:${wsListener.address.port}/connect`);
  if (config.dashboard.enabled !== 'off') {
    const who = config.dashboard.enabled === 'local' ? 'to requests from this machine only; DASHBOARD=on serves it to all, ' : '';
    logger.info(`operator dashboard on ${address}/dashboard (sign in with the API key and secret; ${who}DASHBOARD=off turns it off)`);
  }
  const dashboardWarning = plainHttpDashboardWarning(config);
  if (dashboardWarning) logger.warn(dashboardWarning);

  const worker = new Worker({
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
    shutdownGraceMs: Math.max(0, config.shutdown.graceMs - config.shutdown.drainMs - 3_000),
    logger: logger.child({ component: 'worker' }),
    onOutcome: app.metrics?.taskOutcome,
  });
  await worker.start();
  // Settings changed by another instance reach this one's cache at once.
  await app.services.settings.follow(database.listen);
  const dispatcher = new WebhookDispatcher({
    db: database.db,
    credentials: () => credentials,
    listen: database.listen,
    retry: { firstMs: config.webhooks.retryFirstMs, maxMs: config.webhooks.retryMaxMs, maxAgeMs: config.webhooks.maxAgeMs },
    concurrency: config.webhooks.concurrency,
    perHook: config.webhooks.perHook,
    logger: logger.child({ component: 'webhooks' }),
    onAttempt: app.metrics?.webhookOutcome,
  });
  await dispatcher.start();
  // Housekeeping: expired export files, presence rows left by processes that died, old deliveries, counts and tasks.
  const purge = setInterval(() => {
    purgeExpiredExports(database.db).catch((error) => logger.warn({ err: error }, 'purging expired exports failed'));
    purgeStaleConnections(app.services).catch((error) => logger.warn({ err: error }, 'purging stale connections failed'));
    purgeOldDeliveries(database.db, config.webhooks.retentionMs).catch((error) => logger.warn({ err: error }, 'purging old webhook deliveries failed'));
    purgeOldRateLimitCounts(database.db).catch((error) => logger.warn({ err: error }, 'purging old rate-limit counts failed'));
    purgeOldTasks(database.db, config.taskRetentionMs).catch((error) => logger.warn({ err: error }, 'purging finished tasks failed'));
  }, HOUSEKEEPING_INTERVAL_MS);
  purge.unref();
  logger.info(
    { backend: database.backend, ...(database.backend === 'pglite' ? { dataDir: config.dataDir } : {}) },
    `serving the Stream users API on ${address}`,
  );
  if (generated) {
    writeCredentialsFile(config.dataDir, credentials);
    process.stdout.write(await startBanner(credentials, created, address, config.dataDir));
  }

  // Shutdown (SIGTERM; SIGINT skips the drain): /readyz answers 503 at once while requests are still served, for the
  // drain delay, so that a load balancer stops sending; then no new connections, in-flight requests finish, held tasks finish or go
  // back to the queue, and the process exits, at the latest when the grace period is over.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Ctrl-C is a person at a terminal, not a load balancer to wait for.
    const drainMs = signal === 'SIGINT' ? 0 : config.shutdown.drainMs;
    const { graceMs } = config.shutdown;
    logger.info({ signal, drainMs, graceMs }, 'shutting down: draining');
    const deadline = setTimeout(() => {
      logger.error(`shutdown took longer than SHUTDOWN_GRACE_MS (${graceMs} ms); exiting`);
      process.exit(1);
    }, graceMs);
    app.startDraining();
    clearInterval(purge);
    try {
      await new Promise((resolve) => setTimeout(resolve, drainMs));
      logger.info('shutting down: closing');
      const left = Math.max(0, graceMs - drainMs - 3_000);
      await Promise.all([app.close(), wsListener?.close(), worker.stop(), dispatcher.stop(left)]);
      await database.close();
    } catch (error) {
      logger.error({ err: error }, 'shutting down failed');
    } finally {
      clearTimeout(deadline);
      logger.info('shut down');
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * What `npm start` prints on the embedded default with generated credentials, for a person to copy: the key; the
 * secret on the start that created it, and only then; and one curl line with a server token that expires in an hour
 * (`npm run -s token` makes more).
 */
async function startBanner(credentials: AppCredentials, created: boolean, address: string, dataDir: string): Promise<string> {
  const token = await signServerToken(credentials.key, { expiresInSeconds: BANNER_TOKEN_SECONDS });
  const secret = created
    ? `  API secret: ${credentials.apiSecret}\n  (generated now and kept in ${dataDir}; shown this once. Set STREAM_API_KEY and STREAM_API_SECRET to choose your own)\n`
    : `  (the secret generated on the first start is kept in ${dataDir}; \`npm run -s token\` makes tokens with it)\n`;
  return (
    `\n  API key:    ${credentials.apiKey}\n${secret}\n` +
    `  Try it (this token expires in an hour; \`npm run -s token\` prints another):\n` +
    `    curl -s "${address}/api/v2/users?api_key=${credentials.apiKey}" -H "stream-auth-type: jwt" -H "Authorization: ${token}"\n\n`
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
