// Runs the server as production does: its own Node process running the bundle (dist/server.mjs, what `npm start` and
// the container run; built once per benchmark run), with no wrapper process, so that SIGTERM reaches the server itself, configured through the environment, in its default configuration (rate limits
// as shipped, LOG_LEVEL info, no webhook). Its log goes to a file rather than a pipe, so that reading it costs the
// benchmark's event loop nothing while requests are timed. Ready means: GET /healthz answers 200.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchClient } from './http.js';
import { log, onCleanup, workPath } from './lifecycle.js';
import { sleep } from './measure.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Variables the server reads (src/config.ts): none of them leaks in from the caller's environment. */
const SERVER_VARIABLES = [
  'PORT', 'HOST', 'WS_PORT', 'STREAM_API_KEY', 'STREAM_API_SECRET', 'DATABASE_URL', 'DATA_DIR', 'LOG_LEVEL', 'PUBLIC_URL',
  'RATE_LIMIT_MULTIPLIER', 'RATE_LIMITS', 'TASK_LEASE_MS', 'TASK_CONCURRENCY', 'TASK_MAX_ATTEMPTS', 'TASK_POLL_MS',
];

const SERVING = /^serving the Stream users API on (http:\/\/\S+)$/;

export interface ServerProcess {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  pid: number;
  /** Spawn → first GET /healthz answered 200 (ms). */
  startMs: number;
  /** performance.now() when /healthz first answered 200. */
  readyAt: number;
  /** Server clock (epoch ms) of its "serving …" log line, when found. */
  servingLogTime: number | undefined;
  /** Resident set size and its peak (VmRSS, VmHWM), bytes. */
  memory(): { rss: number; peak: number };
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`); resolves to the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL if still running (clean-up paths). */
  kill(): void;
  logTail(chars?: number): string;
}

export interface StartOptions {
  env: Record<string, string>;
  logFile: string;
  nodeArgs?: string[];
  timeoutMs?: number;
  healthzPollMs?: number;
}

/** A port free right now (the server is told to use it, so that /healthz can be polled from the spawn on). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

let bundleBuilt = false;

/** Bundles the server from the current sources (scripts/build.mjs), once per benchmark run. */
function buildBundleOnce() {
  if (bundleBuilt) return;
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  bundleBuilt = true;
}

export async function startServerProcess({ env, logFile, nodeArgs = [], timeoutMs = 60_000, healthzPollMs = 5 }: StartOptions): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const base = { ...process.env };
  for (const name of SERVER_VARIABLES) delete base[name];
  buildBundleOnce();
  const fd = fs.openSync(logFile, 'w');
  let child: ChildProcess;
  const t0 = performance.now();
  try {
    child = spawn(process.execPath, [...nodeArgs, 'dist/server.mjs'], {
      cwd: ROOT,
      env: { ...base, HOST: '127.0.0.1', WS_PORT: '0', ...env, PORT: String(port) },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    fs.closeSync(fd); // the child has its own copy
  }
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    });
    child.once('error', () => {
      exitCode = null;
      resolve(null);
    });
  });
  const running = () => exitCode === undefined && child.exitCode === null && child.signalCode === null;
  const kill = () => {
    if (running()) child.kill('SIGKILL');
  };
  // Never leave a server behind, whatever way this process ends.
  process.once('exit', kill);
  const logTail = (chars = 4000) => {
    try {
      return fs.readFileSync(logFile, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  };

  const deadline = t0 + timeoutMs;
  for (;;) {
    if (!running()) throw new Error(`the server exited (code ${exitCode ?? child.exitCode}) before serving; its log:\n${logTail()}`);
    if (performance.now() > deadline) {
      kill();
      throw new Error(`the server did not answer /healthz within ${timeoutMs / 1000} s; its log:\n${logTail()}`);
    }
    if ((await healthz(port)) === 200) break;
    await sleep(healthzPollMs);
  }
  const readyAt = performance.now();
  const servingLogTime = await findServingLine(logFile);

  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    startMs: readyAt - t0,
    readyAt,
    servingLogTime,
    logTail,
    kill,
    memory: () => processMemory(child.pid!),
    async stop(graceMs = 20_000) {
      if (!running()) return exitCode ?? child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(kill, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
        process.off('exit', kill);
      }
    },
  };
}

/** The pino time of the "serving …" line (written right after the listener and the task worker started). */
async function findServingLine(logFile: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
      try {
        const entry = JSON.parse(line) as { msg?: unknown; time?: unknown };
        if (typeof entry.msg === 'string' && SERVING.test(entry.msg) && typeof entry.time === 'number') return entry.time;
      } catch {
        // not a pino line
      }
    }
    await sleep(10);
  }
  return undefined;
}

function processMemory(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

// ---------------------------------------------------------------------------------------------------------------

export const API_KEY = 'benchkey';

export interface RunningServer {
  process: ServerProcess;
  client: BenchClient;
  /** SIGTERM and wait; fails unless the server exits cleanly. */
  stop(): Promise<void>;
}

let serverCount = 0;

/** Starts the server with `env` (database) on top of the defaults, and a keep-alive client with `sockets` sockets. */
export async function launchServer(
  label: string,
  env: Record<string, string>,
  options: { apiSecret: string; sockets: number; nodeArgs?: string[] },
): Promise<RunningServer> {
  const logFile = workPath(`server-${++serverCount}-${label.replace(/\W+/g, '-')}.log`);
  const server = await startServerProcess({
    logFile,
    nodeArgs: options.nodeArgs,
    env: { STREAM_API_KEY: API_KEY, STREAM_API_SECRET: options.apiSecret, ...env },
  });
  onCleanup(async () => server.kill());
  const client = await BenchClient.create(server.url, API_KEY, options.apiSecret, options.sockets);
  onCleanup(async () => client.close());
  log(`  server process ${server.pid} (${label}) on ${server.url}, /healthz 200 after ${(server.startMs / 1000).toFixed(2)} s`);
  return {
    process: server,
    client,
    async stop() {
      client.close();
      const code = await server.stop();
      if (code !== 0) throw new Error(`the server exited with code ${code} on SIGTERM; its log:\n${server.logTail()}`);
    },
  };
}
