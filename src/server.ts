// The server as a process of its own: reads the configuration, starts the runtime (src/runtime.ts), prints the
// banner on generated credentials, and turns signals into a graceful shutdown and failures into exit codes.
import pino from 'pino';
import { loadConfig, plainHttpDashboardWarning } from './config.js';
import type { AppCredentials } from './auth/core.js';
import { writeCredentialsFile } from './auth/credentials-file.js';
import { signServerToken } from './auth/jwt.js';
import { DataDirLockedError } from './db/lock.js';
import { logSerializers } from './http/logging.js';
import { ConfigurationError, createRuntime } from './runtime.js';

const BANNER_TOKEN_SECONDS = 3600;

async function main() {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, serializers: logSerializers });
  const runtime = await createRuntime(config, { logger }).catch((error: unknown) => {
    if (!(error instanceof DataDirLockedError || error instanceof ConfigurationError)) throw error;
    logger.fatal(error.message);
    process.exit(1);
  });
  const { address, credentials, database } = runtime;
  if (runtime.connectListener) logger.info(`accepting WebSocket connections also on ws://${config.host}:${runtime.connectListener.address.port}/connect`);
  if (config.dashboard.enabled !== 'off') {
    const who = config.dashboard.enabled === 'local' ? 'to requests from this machine only; DASHBOARD=on serves it to all, ' : '';
    logger.info(`operator dashboard on ${address}/dashboard (sign in with the API key and secret; ${who}DASHBOARD=off turns it off)`);
  }
  const dashboardWarning = plainHttpDashboardWarning(config);
  if (dashboardWarning) logger.warn(dashboardWarning);
  logger.info({ backend: database.backend, ...(database.backend === 'pglite' ? { dataDir: config.dataDir } : {}) }, `serving the Stream users API on ${address}`);
  if (runtime.generated) {
    writeCredentialsFile(config.dataDir, credentials);
    process.stdout.write(await startBanner(credentials, runtime.created, address, config.dataDir));
  }

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
    try {
      await runtime.stop({ drainMs });
    } catch (error) {
      logger.error({ err: error }, 'shutting down failed');
    } finally {
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
