// Runs the server as production does: its own Node process (node with tsx's loader, no wrapper process, so that
// SIGTERM reaches the server itself), configured through the environment. Its log goes to a file rather than a pipe,
// so that reading it costs the benchmark's event loop nothing while requests are timed.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`); resolves to the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL if still running (clean-up paths). */
  kill(): void;
  /** The end of the server's log, for error messages. */
  logTail(chars?: number): string;
}

export interface StartOptions {
  /** Server environment on top of the caller's (minus the variables the server reads). */
  env: Record<string, string>;
  /** Where the server's stdout and stderr go. */
  logFile: string;
  timeoutMs?: number;
}

export async function startServer({ env, logFile, timeoutMs = 60_000 }: StartOptions): Promise<ServerProcess> {
  const base = { ...process.env };
  for (const name of SERVER_VARIABLES) delete base[name];
  const fd = fs.openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: { ...base, ...env },
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
      const text = fs.readFileSync(logFile, 'utf8');
      return text.slice(-chars);
    } catch {
      return '';
    }
  };

  const deadline = performance.now() + timeoutMs;
  let url: string | undefined;
  let offset = 0;
  let partial = '';
  while (!url) {
    if (!running()) throw new Error(`the server exited (code ${exitCode ?? child.exitCode}) before serving; its log:\n${logTail()}`);
    if (performance.now() > deadline) {
      kill();
      throw new Error(`the server did not start within ${timeoutMs / 1000} s; its log:\n${logTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    const text = readFrom(logFile, offset);
    offset += Buffer.byteLength(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let entry: { msg?: unknown };
      try {
        entry = JSON.parse(line) as { msg?: unknown };
      } catch {
        continue; // not a pino line
      }
      const match = typeof entry.msg === 'string' ? SERVING.exec(entry.msg) : null;
      if (match) url = match[1];
    }
  }

  return {
    url,
    pid: child.pid!,
    logTail,
    kill,
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

function readFrom(file: string, offset: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    const read = fs.readSync(fd, buffer, 0, buffer.length, offset);
    // Cut at the last complete UTF-8 line so that a multi-byte character is never split.
    const end = buffer.lastIndexOf(0x0a, read - 1);
    return end < 0 ? '' : buffer.subarray(0, end + 1).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
