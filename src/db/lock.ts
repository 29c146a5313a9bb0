// An exclusive lock on the embedded database's data folder. PGlite takes none itself, and two processes writing
// one folder corrupt it.
//
// A pid alone cannot tell whether the holder lives: containers sharing a volume each run their server as pid 1.
// So the lock file also records where its pid means something (host, boot id, PID namespace) and a heartbeat the
// holder rewrites every few seconds. Where all three match ours the pid is checked directly, so a restart after
// kill -9 takes over at once. Elsewhere only the heartbeat speaks: a stale one is taken over; a fresh one is watched
// until it advances (a live holder: refuse) or goes stale (take over). Ages compare the holder's clock with ours,
// so hosts sharing a volume need synchronised clocks (containers on one host share one); the watch itself is
// bounded by our own clock only.
//
// Whoever's token is in the file owns the folder. A holder that finds another token there (or none) was taken over
// while it stalled, and must stop writing at once: onLost.
//
// A lock file of the earlier format (a bare pid line) is read as the same-host pid lock it was.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export class DataDirLockedError extends Error {}

export interface DataDirLock {
  release(): void;
}

export interface DataDirLockOptions {
  /** How often the holder rewrites its heartbeat. Default 2 s. */
  heartbeatMs?: number;
  /** Age after which a heartbeat no longer shows a live holder. Default 15 s. */
  staleMs?: number;
  /** Longest watch of a fresh heartbeat whose holder cannot be checked otherwise. Default staleMs + heartbeatMs. */
  waitMs?: number;
  /** Called once if another process took the lock over. Default: report on stderr and exit(1). */
  onLost?: (error: DataDirLockedError) => void;
}

interface Holder {
  pid: number;
  /** Absent in the earlier bare-pid format. */
  host?: string;
  bootId?: string | null;
  pidNs?: string | null;
  token?: string;
  heartbeat?: number;
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
// Only Linux has PID namespaces; there the pid can be trusted only if we know both ids.
const pidSpaceKnown = process.platform !== 'linux' || (here.bootId !== null && here.pidNs !== null);

/** Tokens of the locks this process holds: a lock naming our own pid is ours only if its token is in here. */
const held = new Set<string>();

/** How long an empty or cut-off lock file counts as one being written rather than debris. */
const WRITING_GRACE_MS = 2_000;

function record(token: string): string {
  return `${JSON.stringify({ pid: process.pid, ...here, token, heartbeat: Date.now() })}\n`;
}

function parse(text: string): Holder | undefined {
  if (/^\d+$/.test(text.trim())) return { pid: Number(text) };
  try {
    const holder = JSON.parse(text) as Holder;
    if (Number.isInteger(holder.pid) && typeof holder.token === 'string' && Number.isFinite(holder.heartbeat)) {
      return holder;
    }
  } catch {
    // not a lock record
  }
  return undefined;
}

function pidIsAlive(pid: number): boolean {
  // Our own pid with a token we do not hold: an earlier life that had the same pid (e.g. pid 1 in a container).
  if (pid === process.pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function samePidSpace(holder: Holder): boolean {
  if (holder.token === undefined) return true; // earlier format
  return pidSpaceKnown && holder.host === here.host && holder.bootId === here.bootId && holder.pidNs === here.pidNs;
}

function nameOf(holder: Holder): string {
  return `process ${holder.pid}${holder.host === undefined ? '' : ` on host ${holder.host}`}`;
}

function inUse(folder: string, holder: Holder): DataDirLockedError {
  return new DataDirLockedError(
    `data folder ${folder} is in use by ${nameOf(holder)}; stop it or set DATA_DIR to another folder`,
  );
}

function readLock(file: string): { text: string; modifiedMs: number } | undefined {
  try {
    return { text: fs.readFileSync(file, 'utf8'), modifiedMs: fs.statSync(file).mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Watches a fresh heartbeat that nothing else can vouch for. */
async function watch(
  file: string,
  text: string,
  holder: Holder,
  { staleMs, waitMs, pollMs }: { staleMs: number; waitMs: number; pollMs: number },
): Promise<'live' | 'changed' | 'stale'> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && Date.now() - holder.heartbeat! <= staleMs) {
    await sleep(pollMs);
    const now = readLock(file);
    if (now?.text === text) continue;
    return now !== undefined && parse(now.text)?.token === holder.token ? 'live' : 'changed';
  }
  return 'stale';
}

function exitOnLost(error: DataDirLockedError): void {
  console.error(error.message);
  process.exit(1);
}

export async function lockDataDir(dataDir: string, options: DataDirLockOptions = {}): Promise<DataDirLock> {
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  const staleMs = options.staleMs ?? 15_000;
  const waitMs = options.waitMs ?? staleMs + heartbeatMs;
  const pollMs = Math.max(10, Math.min(250, heartbeatMs / 2));
  const folder = path.resolve(dataDir);
  const file = path.join(folder, 'server.lock');
  const token = randomUUID();
  fs.mkdirSync(folder, { recursive: true });
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.writeFileSync(file, record(token), { flag: 'wx' });
      return hold(folder, file, token, heartbeatMs, staleMs, options.onLost ?? exitOnLost);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const seen = readLock(file);
    if (seen === undefined) continue; // released in between: try again
    const holder = parse(seen.text);
    if (holder === undefined) {
      const beingWritten = seen.text === '' || seen.text.startsWith('{');
      if (beingWritten && Date.now() - seen.modifiedMs < WRITING_GRACE_MS) {
        throw new DataDirLockedError(`data folder ${folder} is being locked by another process`);
      }
    } else if (holder.token !== undefined && held.has(holder.token)) {
      throw inUse(folder, holder);
    } else if (samePidSpace(holder)) {
      if (pidIsAlive(holder.pid)) throw inUse(folder, holder);
    } else if (Date.now() - holder.heartbeat! <= staleMs) {
      const verdict = await watch(file, seen.text, holder, { staleMs, waitMs, pollMs });
      if (verdict === 'live') throw inUse(folder, holder);
      if (verdict === 'changed') continue;
    }
    // Stale lock (or debris). Move it aside under a private name first, so that of two processes taking over at
    // once only one removes the stale file, and neither removes the other's fresh lock. The name is random, not
    // our pid: two takers in separate containers may share a pid.
    const aside = `${file}.${token}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    if (fs.readFileSync(aside, 'utf8') !== seen.text) {
      fs.renameSync(aside, file); // a fresh lock (or heartbeat) came in between: put it back, and look again
      continue;
    }
    fs.unlinkSync(aside);
  }
  throw new DataDirLockedError(`could not take the lock on data folder ${folder}`);
}

function hold(
  folder: string,
  file: string,
  token: string,
  heartbeatMs: number,
  staleMs: number,
  onLost: (error: DataDirLockedError) => void,
): DataDirLock {
  held.add(token);
  const temp = `${file}.${token}.tmp`;
  let lastBeat = Date.now();
  const stop = () => {
    clearInterval(timer);
    held.delete(token);
    fs.rmSync(temp, { force: true });
  };
  /** Refreshes the heartbeat; answers why the lock is lost, if it is. */
  const beat = (): string | undefined => {
    let text: string | undefined;
    try {
      text = readLock(file)?.text;
      if (text !== undefined && parse(text)?.token === token) {
        // Rename over the file, so that no reader ever sees it half written.
        fs.writeFileSync(temp, record(token));
        fs.renameSync(temp, file);
        lastBeat = Date.now();
        return undefined;
      }
    } catch (error) {
      // Without a heartbeat others take the folder over after staleMs: give up well before that.
      return Date.now() - lastBeat > staleMs / 2 ? `cannot refresh its heartbeat (${(error as Error).message})` : undefined;
    }
    if (text === undefined) return 'its lock file was removed';
    const holder = parse(text);
    return holder ? `taken over by ${nameOf(holder)}` : 'its lock file was overwritten';
  };
  const timer = setInterval(() => {
    const why = beat();
    if (why === undefined) return;
    stop();
    onLost(new DataDirLockedError(`lost the lock on data folder ${folder}: ${why}; stopping, as two servers on one folder corrupt it`));
  }, heartbeatMs);
  timer.unref();
  return {
    release() {
      if (!held.has(token)) return;
      stop();
      try {
        if (parse(fs.readFileSync(file, 'utf8'))?.token === token) fs.unlinkSync(file);
      } catch {
        // already gone
      }
    },
  };
}
