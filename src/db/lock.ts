// An exclusive lock on the embedded database's data folder. PGlite takes none itself, and two processes writing
// one folder corrupt it. The lock file holds the owner's pid: a live owner makes a second process refuse to start;
// a dead owner's lock (kill -9) is taken over, so a restart just works.
import fs from 'node:fs';
import path from 'node:path';

export class DataDirLockedError extends Error {}

/** Lock files this process holds: a lock naming our own pid is ours only if it is in here. */
const held = new Set<string>();

/** How long an empty lock file counts as one being written (created, pid not yet in it) rather than debris. */
const EMPTY_GRACE_MS = 2_000;

function isAlive(pid: number, file: string): boolean {
  // Our own pid: held by this process (a second open of the same folder), or left by an earlier life that had the
  // same pid (e.g. pid 1 in a container).
  if (pid === process.pid) return held.has(file);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.resolve(dataDir, 'server.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      held.add(file);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          held.delete(file);
          try {
            if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let content: string;
    let modifiedMs: number;
    try {
      content = fs.readFileSync(file, 'utf8');
      modifiedMs = fs.statSync(file).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // released in between: try again
      throw error;
    }
    const owner = Number.parseInt(content, 10);
    if (Number.isInteger(owner) && isAlive(owner, file)) {
      throw new DataDirLockedError(
        `data folder ${path.resolve(dataDir)} is in use by process ${owner}; stop it or set DATA_DIR to another folder`,
      );
    }
    if (content === '' && Date.now() - modifiedMs < EMPTY_GRACE_MS) {
      throw new DataDirLockedError(`data folder ${path.resolve(dataDir)} is being locked by another process`);
    }
    // Stale lock from a process that is gone (or an unreadable one). Move it aside under a private name first, so
    // that of two processes taking over at once only one removes the stale file, and neither removes the other's
    // fresh lock. Contents are compared as text: a lock naming no pid must compare equal to itself.
    const aside = `${file}.${process.pid}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    if (fs.readFileSync(aside, 'utf8') !== content) {
      fs.renameSync(aside, file); // it was a fresh lock taken in between: put it back, and look again
      continue;
    }
    fs.unlinkSync(aside);
  }
  throw new DataDirLockedError(`could not take the lock on data folder ${path.resolve(dataDir)}`);
}
