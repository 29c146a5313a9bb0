// The server as a process of its own: reads the configuration (the environment, and flags over it), starts the runtime
// (src/runtime.ts), prints the banner on generated credentials, and turns signals into a graceful shutdown and
// failures into exit codes.
import { isInMemory, loadConfig, plainHttpDashboardWarning } from './config.js';
import { writeCredentialsFile } from './auth/credentials-file.js';
import { DataDirLockedError } from './db/lock.js';
import { openProcessLogger } from './http/logging.js';
import { StartupError, createRuntime } from './runtime.js';
import { startBanner } from './server-banner.js';
import { parseServerFlagsOrExit } from './server-flags.js';

async function main() {
  const flags = parseServerFlagsOrExit(process.argv.slice(2));
  const config = loadConfig({ ...process.env, ...flags.env });
  // With --json, stdout carries the one line a script reads; the logs go to stderr.
  const logger = openProcessLogger(config.logLevel, flags.json ? 2 : 1);
  const runtime = await createRuntime(config, { logger }).catch((error: unknown) => {
    if (!(error instanceof DataDirLockedError || error instanceof StartupError)) throw error;
    logger.fatal(error.message);
    process.exit(1);
  });
  const { address, credentials, database } = runtime;
  // Installed before anything announces the server as ready (the log line, the --json line, the banner): a signal sent
  // on seeing one must find the handler, not the default action that kills the process at once.
  // SIGTERM drains for SHUTDOWN_DRAIN_MS (a load balancer notices /readyz); Ctrl-C (SIGINT) is a person at a terminal,
  // not a load balancer to wait for. Past SHUTDOWN_GRACE_MS the process exits whatever is left.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const drainMs = signal === 'SIGINT' ? 0 : config.shutdown.drainMs;
    const { graceMs } = config.shutdown;
    logger.info({ signal, drainMs, graceMs }, 'shutting down: draining');
    setTimeout(() => {
      logger.error(`shutdown took longer than SHUTDOWN_GRACE_MS (${graceMs} ms); exiting`);
      process.exit(1);
    }, graceMs).unref();
    let status = 0;
    try {
      await runtime.stop({ drainMs });
    } catch (error) {
      logger.error({ err: error }, 'shutting down failed');
      status = 1;
    } finally {
      logger.info('shut down');
      process.exit(status);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  if (runtime.connectListener) logger.info(`accepting WebSocket connections also on ws://${config.host}:${runtime.connectListener.address.port}/connect`);
  if (config.dashboard.enabled !== 'off') {
    const who = config.dashboard.enabled === 'local' ? 'to requests from this machine only; DASHBOARD=on serves it to all, ' : '';
    logger.info(`operator dashboard on ${address}/dashboard (sign in with the API key and secret; ${who}DASHBOARD=off turns it off)`);
  }
  const dashboardWarning = plainHttpDashboardWarning(config);
  if (dashboardWarning) logger.warn(dashboardWarning);
  logger.info({ backend: database.backend, ...(database.backend === 'pglite' ? { dataDir: config.dataDir } : {}) }, `serving the Stream users API on ${address}`);
  const inMemory = database.backend === 'pglite' && isInMemory(config.dataDir);
  if (runtime.generated && !inMemory) writeCredentialsFile(config.dataDir, credentials);
  if (flags.json) process.stdout.write(`${JSON.stringify({ url: address, api_key: credentials.apiKey, api_secret: credentials.apiSecret })}\n`);
  else if (runtime.generated) process.stdout.write(await startBanner(credentials, runtime.created, address, inMemory ? undefined : config.dataDir));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
