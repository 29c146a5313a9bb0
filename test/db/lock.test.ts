// The exclusive lock on the embedded database's data folder (src/db/lock.ts), and the real server honouring it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir, type DataDirLock } from '../../src/db/lock.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const dirs: string[] = [];
const locks: DataDirLock[] = [];
const children: ChildProcess[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-test-'));
  dirs.push(dir);
  return dir;
}

function lock(dir: string): DataDirLock {
  const taken = lockDataDir(dir);
  locks.push(taken);
  return taken;
}

const lockFile = (dir: string) => path.join(dir, 'server.lock');
const owner = (dir: string) => fs.readFileSync(lockFile(dir), 'utf8').trim();

/** A process that lives until killed. */
function liveProcess(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(() => {
  for (const taken of locks.splice(0)) taken.release();
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('lockDataDir', () => {
  it('creates the folder and a lock file naming this process', () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('refuses a second lock on the same folder while the first is held', () => {
    const dir = tempDir();
    lock(dir);
    expect(() => lock(dir)).toThrow(DataDirLockedError);
    expect(() => lock(dir)).toThrow(new RegExp(`in use by process ${process.pid}`));
    // The holder still owns it.
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('refuses a lock held by another live process, and leaves its file alone', async () => {
    const dir = tempDir();
    const child = liveProcess();
    await new Promise((resolve) => child.once('spawn', resolve));
    fs.writeFileSync(lockFile(dir), `${child.pid}\n`);
    let error: unknown;
    try {
      lock(dir);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect((error as Error).message).toContain(`in use by process ${child.pid}`);
    expect((error as Error).message).toContain(path.resolve(dir));
    expect(owner(dir)).toBe(String(child.pid));
  });

  it('takes over a stale lock naming a process that has exited', async () => {
    const dir = tempDir();
    const pid = await deadPid();
    expect(isRunning(pid)).toBe(false);
    fs.writeFileSync(lockFile(dir), `${pid}\n`);
    lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
    // No leftovers of the takeover.
    expect(fs.readdirSync(dir)).toEqual(['server.lock']);
  });

  it('takes over a lock file that names no pid at all', () => {
    const dir = tempDir();
    fs.writeFileSync(lockFile(dir), 'garbage');
    // (Before the fix, NaN !== NaN made the takeover put the file back three times and give up.)
    lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('takes over an empty lock file left by a crash, but not one that is being written right now', () => {
    const dir = tempDir();
    fs.writeFileSync(lockFile(dir), '');
    // Fresh and empty: another process has just created it and is about to write its pid.
    expect(() => lock(dir)).toThrow(DataDirLockedError);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockFile(dir), old, old);
    lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('takes over a lock naming this very pid that this process does not hold (an earlier life, e.g. pid 1)', () => {
    const dir = tempDir();
    fs.writeFileSync(lockFile(dir), `${process.pid}\n`);
    lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
    expect(() => lock(dir)).toThrow(DataDirLockedError);
  });

  it('removes the file on release, and can be taken again afterwards', () => {
    const dir = tempDir();
    const first = lock(dir);
    first.release();
    expect(fs.existsSync(lockFile(dir))).toBe(false);
    first.release(); // twice is harmless
    lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('does not remove a lock that another process has taken since', async () => {
    const dir = tempDir();
    const first = lock(dir);
    const child = liveProcess();
    await new Promise((resolve) => child.once('spawn', resolve));
    fs.writeFileSync(lockFile(dir), `${child.pid}\n`); // as if ours had been taken over
    first.release();
    expect(owner(dir)).toBe(String(child.pid));
  });
});

// The real thing: `src/server.ts` on the embedded default, as `npm start` runs it.
describe('the server process and its data folder', () => {
  interface Started {
    child: ChildProcess;
    output: () => string;
    exit: Promise<number | null>;
  }

  function startServerProcess(dataDir: string): Started {
    // node --import tsx directly (not npx), so the pid we kill is the server itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: '',
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        STREAM_API_KEY: 'lockkey',
        STREAM_API_SECRET: 'lock-secret',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output: () => output, exit };
  }

  async function waitForServing(started: Started, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (!started.output().includes('serving the Stream users API')) {
      if (started.child.exitCode !== null) throw new Error(`server exited: ${started.output()}`);
      if (Date.now() > deadline) throw new Error(`server did not start: ${started.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('refuses a second server on the same DATA_DIR, and restarts after kill -9', async () => {
    const dataDir = tempDir();
    const first = startServerProcess(dataDir);
    await waitForServing(first);
    expect(owner(dataDir)).toBe(String(first.child.pid));

    const second = startServerProcess(dataDir);
    expect(await second.exit).toBe(1);
    expect(second.output()).toContain(`in use by process ${first.child.pid}`);
    expect(first.child.exitCode).toBeNull();

    first.child.kill('SIGKILL');
    await first.exit;
    // The lock file of the killed server is still there: the next start must take it over.
    expect(owner(dataDir)).toBe(String(first.child.pid));

    const third = startServerProcess(dataDir);
    await waitForServing(third);
    expect(owner(dataDir)).toBe(String(third.child.pid));

    // A clean stop releases the lock.
    third.child.kill('SIGTERM');
    expect(await third.exit).toBe(0);
    expect(fs.existsSync(lockFile(dataDir))).toBe(false);
  }, 180_000);
});
