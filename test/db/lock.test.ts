// The exclusive lock on the embedded database's data folder (src/db/lock.ts), and the real server honouring it.
// backend-independent: the embedded engine's data-folder lock, and server processes on it.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir, type DataDirLock, type DataDirLockOptions } from '../../src/db/lock.js';
import { runCommand, runNode, runServer, testBundle, type Child } from '../helpers/process.js';

const dirs: string[] = [];
const locks: DataDirLock[] = [];
const children: Child[] = [];
const timers: NodeJS.Timeout[] = [];
/** Locks lost without a test asking for it: a lost lock must never go unnoticed, here neither. */
const unexpectedlyLost: Error[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-test-'));
  dirs.push(dir);
  return dir;
}

// Small heartbeats keep the tests fast; the stale age stays generous, as a loaded machine can stall a holder.
const FAST: DataDirLockOptions = { heartbeatMs: 50, staleMs: 3_000 };

async function lock(dir: string, options: DataDirLockOptions = {}): Promise<DataDirLock> {
  const taken = await lockDataDir(dir, { onLost: (error) => unexpectedlyLost.push(error), ...options });
  locks.push(taken);
  return taken;
}

async function refusal(dir: string, options: DataDirLockOptions = {}): Promise<Error> {
  const error = await lock(dir, options).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DataDirLockedError);
  return error as Error;
}

const lockFile = (dir: string) => path.join(dir, 'server.lock');
const contents = (dir: string) => fs.readFileSync(lockFile(dir), 'utf8');
const record = (dir: string) => JSON.parse(contents(dir)) as LockRecord;
/** The pid the lock file names, in either format. */
function owner(dir: string): string {
  const text = contents(dir).trim();
  return /^\d+$/.test(text) ? text : String(record(dir).pid);
}

interface LockRecord {
  pid: number;
  host: string;
  bootId: string | null;
  pidNs: string | null;
  token: string;
  heartbeat: number;
}

function readOrNull(read: () => string): string | null {
  try {
    return read().trim();
  } catch {
    return null;
  }
}

const here = {
  host: os.hostname(),
  bootId: readOrNull(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
  pidNs: readOrNull(() => fs.readlinkSync('/proc/self/ns/pid')),
};

/** Writes a lock record as another process would (by default: one in this PID space, with a fresh heartbeat). */
function forge(dir: string, fields: Partial<LockRecord> = {}): LockRecord {
  const forged = { pid: 1, ...here, token: randomUUID(), heartbeat: Date.now(), ...fields };
  fs.writeFileSync(lockFile(dir), `${JSON.stringify(forged)}\n`);
  return forged;
}

/** Keeps a forged lock's heartbeat advancing, as its live holder would. */
function keepBeating(dir: string, forged: LockRecord, everyMs = 50): void {
  const temp = `${lockFile(dir)}.forged`;
  timers.push(
    setInterval(() => {
      fs.writeFileSync(temp, `${JSON.stringify({ ...forged, heartbeat: Date.now() })}\n`);
      fs.renameSync(temp, lockFile(dir));
    }, everyMs),
  );
}

/** A process that lives until killed, once it runs. */
async function liveProcess(): Promise<ChildProcess> {
  const child = runNode(['-e', 'setTimeout(() => {}, 600000)'], {});
  children.push(child);
  await child.started;
  return child.process;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = runNode(['-e', ''], {});
  await child.exited;
  return child.process.pid!;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// A second process taking the lock through the real module: it reports one JSON line, and holds the lock until killed.
const CONTENDER = `
const { lockDataDir } = await import(process.env.LOCK_MODULE);
try {
  await lockDataDir(process.env.LOCK_DIR, JSON.parse(process.env.LOCK_OPTIONS));
  console.log(JSON.stringify({ locked: process.pid }));
  setInterval(() => {}, 60_000);
} catch (error) {
  console.log(JSON.stringify({ refused: error.message }));
  process.exitCode = 2;
}`;

interface Contender {
  child: ChildProcess;
  /** Its first report: the pid it holds the lock as (in its own PID namespace), or the refusal. */
  report: Promise<{ locked?: number; refused?: string }>;
  output: () => string;
  exit: Promise<number | null>;
}

/** Starts a contender, in a PID namespace of its own when `unshare` is set (where it is pid 1). */
function contender(dir: string, options: DataDirLockOptions, { unshare = false } = {}): Contender {
  const node = ['--input-type=module', '-e', CONTENDER];
  const env = { LOCK_MODULE: pathToFileURL(testBundle('data-dir-lock')).href, LOCK_DIR: dir, LOCK_OPTIONS: JSON.stringify(options) };
  const child = unshare ? runCommand('unshare', ['--pid', '--fork', '--kill-child', process.execPath, ...node], env) : runNode(node, env);
  children.push(child);
  // Its JSON line; rejected if it exits without one. (Handled here too: a test need not wait for it.)
  const report = child.waitFor(/^(\{.*\})\n/m, 60_000).then((match) => JSON.parse(match[1]!) as { locked?: number; refused?: string });
  report.catch(() => {});
  return { child: child.process, report, output: child.output, exit: child.exited };
}

/** The host pid of the process an `unshare --fork` runs. */
function forkedChild(unshare: ChildProcess): number {
  return Number(fs.readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim().split(' ')[0]);
}

const canUnsharePid =
  process.platform === 'linux' && spawnSync('unshare', ['--pid', '--fork', '--kill-child', 'true']).status === 0;

afterEach(() => {
  for (const timer of timers.splice(0)) clearInterval(timer);
  for (const taken of locks.splice(0)) taken.release();
  expect(unexpectedlyLost.splice(0)).toEqual([]);
});

afterAll(() => {
  for (const child of children) void child.kill('SIGKILL');
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('lockDataDir', () => {
  it('creates the folder and a lock file naming this process, where its pid means something, and a heartbeat', async () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const before = Date.now();
    await lock(dir);
    expect(record(dir)).toEqual({
      pid: process.pid,
      host: os.hostname(),
      bootId: here.bootId,
      pidNs: here.pidNs,
      token: expect.stringMatching(/^[0-9a-f-]{36}$/),
      heartbeat: expect.any(Number),
    });
    expect(record(dir).heartbeat).toBeGreaterThanOrEqual(before);
    if (process.platform === 'linux') expect(here.bootId && here.pidNs).toBeTruthy();
  });

  it('keeps the heartbeat advancing while held, always as a whole record', async () => {
    const dir = tempDir();
    await lock(dir, { heartbeatMs: 20 });
    const first = record(dir);
    const seen = new Set<number>();
    const deadline = Date.now() + 10_000;
    while (seen.size < 3 && Date.now() < deadline) {
      const now = record(dir); // would throw on a half-written file
      expect(now.token).toBe(first.token);
      if (now.heartbeat > first.heartbeat) seen.add(now.heartbeat);
      await sleep(5);
    }
    expect(seen.size).toBe(3);
    expect(fs.readdirSync(dir)).toEqual(['server.lock']);
  });

  it('refuses a second lock on the same folder while the first is held', async () => {
    const dir = tempDir();
    await lock(dir);
    expect((await refusal(dir)).message).toContain(`in use by process ${process.pid} on host ${os.hostname()}`);
    // The holder still owns it.
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('refuses a lock of the earlier format (a bare pid) held by another live process, and leaves its file alone', async () => {
    const dir = tempDir();
    const child = await liveProcess();
    fs.writeFileSync(lockFile(dir), `${child.pid}\n`);
    const error = await refusal(dir);
    expect(error.message).toContain(`in use by process ${child.pid}`);
    expect(error.message).toContain(path.resolve(dir));
    expect(contents(dir)).toBe(`${child.pid}\n`);
  });

  it('takes over a stale lock of the earlier format naming a process that has exited', async () => {
    const dir = tempDir();
    const pid = await deadPid();
    expect(isRunning(pid)).toBe(false);
    fs.writeFileSync(lockFile(dir), `${pid}\n`);
    await lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
    // No leftovers of the takeover.
    expect(fs.readdirSync(dir)).toEqual(['server.lock']);
  });

  it('takes over a lock in this PID space naming a process that has exited, however fresh its heartbeat', async () => {
    const dir = tempDir();
    forge(dir, { pid: await deadPid() });
    const started = Date.now();
    await lock(dir, { staleMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('takes over a lock file that names no pid at all', async () => {
    const dir = tempDir();
    fs.writeFileSync(lockFile(dir), 'garbage');
    // (Before the fix, NaN !== NaN made the takeover put the file back three times and give up.)
    await lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it.each([
    ['empty', ''],
    ['cut off', '{"pid":12'],
  ])('takes over an %s lock file left by a crash, but not one that is being written right now', async (_, text) => {
    const dir = tempDir();
    fs.writeFileSync(lockFile(dir), text);
    // Fresh: another process has just created it and is about to write its record.
    expect((await refusal(dir)).message).toContain('is being locked by another process');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockFile(dir), old, old);
    await lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('takes over a lock naming this very pid that this process does not hold (an earlier life, e.g. pid 1)', async () => {
    const dir = tempDir();
    fs.writeFileSync(lockFile(dir), `${process.pid}\n`);
    await lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
    await refusal(dir);

    const again = tempDir();
    forge(again, { pid: process.pid });
    await lock(again);
    expect(record(again).token).not.toBe(undefined);
    await refusal(again);
  });

  it('removes the file on release, stops the heartbeat, and can be taken again afterwards', async () => {
    const dir = tempDir();
    const first = await lock(dir, { heartbeatMs: 10 });
    first.release();
    expect(fs.existsSync(lockFile(dir))).toBe(false);
    await sleep(50);
    expect(fs.readdirSync(dir)).toEqual([]);
    first.release(); // twice is harmless
    await lock(dir);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('does not remove a lock that another process has taken since', async () => {
    const dir = tempDir();
    const first = await lock(dir, { onLost: () => {} });
    const child = await liveProcess();
    const taker = forge(dir, { pid: child.pid! }); // as if ours had been taken over
    first.release();
    expect(record(dir)).toEqual(taker);
  });
});

describe('a holder in another process', () => {
  it('refuses this process while another process holds the lock, naming it, and vice versa', async () => {
    const dir = tempDir();
    const holder = contender(dir, FAST);
    const { locked } = await holder.report;
    expect(locked).toBe(holder.child.pid);
    // Same host, boot and PID namespace: the pid is checked, so the refusal needs no watching.
    const started = Date.now();
    const error = await refusal(dir, FAST);
    expect(Date.now() - started).toBeLessThan(FAST.staleMs! / 2);
    expect(error.message).toContain(`in use by process ${holder.child.pid} on host ${os.hostname()}`);
    expect(owner(dir)).toBe(String(holder.child.pid));
    holder.child.kill('SIGKILL');
    await holder.exit;

    const dir2 = tempDir();
    await lock(dir2, FAST);
    const second = contender(dir2, FAST);
    expect((await second.report).refused).toContain(`in use by process ${process.pid} on host ${os.hostname()}`);
    expect(await second.exit).toBe(2);
  }, 60_000);

  it('takes over at once the lock of a holder killed with kill -9', async () => {
    const dir = tempDir();
    const holder = contender(dir, FAST);
    await holder.report;
    holder.child.kill('SIGKILL');
    await holder.exit;
    expect(owner(dir)).toBe(String(holder.child.pid)); // its lock file is still there
    const started = Date.now();
    // A stale age far beyond the test's time: only the pid check can let us in.
    await lock(dir, { staleMs: 600_000 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(owner(dir)).toBe(String(process.pid));
  }, 60_000);

  it('lets exactly one of several simultaneous starters take over a stale lock', async () => {
    const dir = tempDir();
    fs.writeFileSync(lockFile(dir), `${await deadPid()}\n`);
    const starters = [contender(dir, FAST), contender(dir, FAST), contender(dir, FAST)];
    const reports = await Promise.all(starters.map((starter) => starter.report));
    const winners = reports.filter((report) => report.locked !== undefined);
    expect(winners).toHaveLength(1);
    const winner = starters[reports.indexOf(winners[0]!)]!;
    // (A loser may also have caught the winner's file between its creation and its first write.)
    const refusal = new RegExp(`in use by process ${winner.child.pid} |is being locked by another process`);
    for (const report of reports) if (report !== winners[0]) expect(report.refused).toMatch(refusal);
    expect(owner(dir)).toBe(String(winner.child.pid));
    expect(fs.readdirSync(dir)).toEqual(['server.lock']);
  }, 60_000);
});

describe('a lock whose pid cannot be checked (PID collision: another host, boot or PID namespace)', () => {
  const elsewhere: Array<[string, Partial<LockRecord>]> = [
    ['another host', { host: 'another-host', bootId: randomUUID() }],
    ['another boot of this host', { bootId: randomUUID() }],
    ['another PID namespace (container) on this host', { pidNs: 'pid:[1]' }],
    ['a platform without boot or namespace ids', { bootId: null, pidNs: null }],
  ];

  it.each(elsewhere)('refuses a live pid on %s whose heartbeat advances', async (_, fields) => {
    const dir = tempDir();
    // Both pids are live here, and ours would even count as dead: neither may decide.
    for (const pid of [1, process.pid]) {
      const forged = forge(dir, { pid, ...fields });
      keepBeating(dir, forged);
      const error = await refusal(dir, FAST);
      expect(error.message).toContain(`in use by process ${pid} on host ${forged.host}`);
      expect(record(dir).token).toBe(forged.token);
      for (const timer of timers.splice(0)) clearInterval(timer);
    }
  });

  it.each(elsewhere)('takes over at once a lock on %s whose heartbeat is stale, though its pid lives', async (_, fields) => {
    const dir = tempDir();
    forge(dir, { pid: 1, ...fields, heartbeat: Date.now() - 10_000 });
    const started = Date.now();
    await lock(dir, { heartbeatMs: 50, staleMs: 5_000, waitMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('takes over a fresh heartbeat that does not advance, once it has gone stale', async () => {
    const dir = tempDir();
    forge(dir, { pid: 1, host: 'another-host' });
    const started = Date.now();
    await lock(dir, { heartbeatMs: 50, staleMs: 600 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(owner(dir)).toBe(String(process.pid));
    expect(fs.readdirSync(dir)).toEqual(['server.lock']);
  });

  it('watches a heartbeat from a clock running ahead for no longer than waitMs', async () => {
    const dir = tempDir();
    forge(dir, { pid: 1, host: 'another-host', heartbeat: Date.now() + 3_600_000 });
    const started = Date.now();
    await lock(dir, { heartbeatMs: 50, staleMs: 60_000, waitMs: 600 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('takes the lock when its holder releases it while being watched', async () => {
    const dir = tempDir();
    forge(dir, { pid: 1, host: 'another-host' });
    setTimeout(() => fs.unlinkSync(lockFile(dir)), 200);
    const started = Date.now();
    await lock(dir, { heartbeatMs: 50, staleMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(owner(dir)).toBe(String(process.pid));
  });

  it('lets exactly one of two starters watching the same silent heartbeat take over', async () => {
    const dir = tempDir();
    forge(dir, { pid: 1, host: 'another-host' });
    const options = { heartbeatMs: 50, staleMs: 400 };
    const results = await Promise.allSettled([lock(dir, options), lock(dir, options)]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((result) => result.status === 'rejected')!;
    expect(refused.reason).toBeInstanceOf(DataDirLockedError);
    expect(owner(dir)).toBe(String(process.pid));
    expect(fs.readdirSync(dir)).toEqual(['server.lock']);
  });

  it.skipIf(!canUnsharePid)(
    'refuses a second process, in another PID namespace, while the first lives there as pid 1; takes over once it is killed',
    async () => {
      const dir = tempDir();
      const holder = contender(dir, FAST, { unshare: true });
      expect((await holder.report).locked).toBe(1);
      expect(record(dir).pidNs).not.toBe(here.pidNs);

      // The case: both pid 1, sharing one folder.
      const second = contender(dir, FAST, { unshare: true });
      expect((await second.report).refused).toContain(`in use by process 1 on host ${os.hostname()}`);
      expect(await second.exit).toBe(2);
      // And from this namespace, where pid 1 is someone else.
      expect((await refusal(dir, FAST)).message).toContain('in use by process 1');

      process.kill(forkedChild(holder.child), 'SIGKILL');
      await holder.exit;
      const started = Date.now();
      await lock(dir, FAST);
      expect(Date.now() - started).toBeLessThan(FAST.staleMs! + 10_000);
      expect(owner(dir)).toBe(String(process.pid));
    },
    90_000,
  );
});

describe('losing the lock', () => {
  it('reports a takeover at the next heartbeat, stops beating, and leaves the taker its file', async () => {
    const dir = tempDir();
    const lost: Error[] = [];
    const taken = await lock(dir, { heartbeatMs: 20, onLost: (error) => lost.push(error) });
    const taker = forge(dir, { pid: 4242, host: 'another-host' });
    await until(() => lost.length > 0, 'onLost');
    expect(lost[0]).toBeInstanceOf(DataDirLockedError);
    expect(lost[0]!.message).toContain(`lost the lock on data folder ${path.resolve(dir)}: taken over by process 4242 on host another-host`);
    await sleep(100);
    expect(lost).toHaveLength(1);
    expect(record(dir)).toEqual(taker);
    taken.release();
    expect(record(dir)).toEqual(taker);
  });

  it('reports a lock file removed under it', async () => {
    const dir = tempDir();
    const lost: Error[] = [];
    await lock(dir, { heartbeatMs: 20, onLost: (error) => lost.push(error) });
    fs.unlinkSync(lockFile(dir));
    await until(() => lost.length > 0, 'onLost');
    expect(lost[0]!.message).toContain('its lock file was removed');
    await sleep(100);
    expect(fs.existsSync(lockFile(dir))).toBe(false);
  });

  it('by default exits the process, saying why', async () => {
    const dir = tempDir();
    const holder = contender(dir, FAST);
    await holder.report;
    forge(dir, { pid: 4242, host: 'another-host' });
    expect(await holder.exit).toBe(1);
    expect(holder.output()).toContain('taken over by process 4242 on host another-host');
  }, 60_000);
});

// The real thing: `src/server.ts` on the embedded default, as `npm start` runs it (its bundle).
describe('the server process and its data folder', () => {
  interface Started {
    child: ChildProcess;
    output: () => string;
    exit: Promise<number | null>;
    waitFor: Child['waitFor'];
  }

  function startServerProcess(dataDir: string): Started {
    const started = runServer({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', STREAM_API_KEY: 'lockkey', STREAM_API_SECRET: 'lock-secret', LOG_LEVEL: 'info' });
    children.push(started);
    return { child: started.process, output: started.output, exit: started.exited, waitFor: started.waitFor };
  }

  async function waitForServing(started: Started, timeoutMs = 60_000) {
    await started.waitFor(/serving the Stream users API/, timeoutMs);
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
