// A signal sent to the pid of `npm start` reaches the server: SIGTERM and SIGINT make it drain and stop as they do
// when sent to node itself, and nothing is left serving (supervisors that signal only the main pid: systemd with
// KillMode=process, pm2 running npm, several PaaS).
// backend-independent: it always runs `npm start` on the embedded default (its processes drop DATABASE_URL).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.js';
import { ROOT } from '../helpers/process.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'npm-start-test-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Left out of a run on PostgreSQL by vitest.config.ts (the marker above); skipped should one include it anyway.
describe.skipIf(usingPostgres)('signals to `npm start`', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to npm's pid drains and stops the server`, async () => {
      const npm = spawn('npm', ['start'], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, PORT: '0', WS_PORT: '0', SHUTDOWN_DRAIN_MS: '300', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      started.push(npm.pid!);
      let output = '';
      npm.stdout!.on('data', (chunk) => (output += chunk));
      npm.stderr!.on('data', (chunk) => (output += chunk));
      const npmExited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
      await until(() => /serving the Stream users API on http/.test(output), 90_000, 'the server to serve');
      const serverPid = Number(/"pid":(\d+)[^\n]*serving the Stream users API/.exec(output)![1]);
      started.push(serverPid);
      const baseUrl = /serving the Stream users API on (http:\/\/[\d.:]+)/.exec(output)![1]!;
      expect(serverPid).not.toBe(npm.pid);
      expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);

      npm.kill(signal);
      await until(() => !alive(serverPid), 20_000, 'the server process to end');
      await npmExited;
      // It shut down the way it does for a signal sent to itself, and let go of its port.
      expect(output).toContain(`"signal":"${signal}"`);
      expect(output).toContain('shut down');
      await expect(fetch(`${baseUrl}/readyz`)).rejects.toThrow();
    }, 120_000);
  }
});
