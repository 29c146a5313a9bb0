// An exclusive lock on the embedded database's data folder. PGlite takes none itself, and two processes writing
// one folder corrupt it. The lock file holds the owner's pid: a live owner makes a second process refuse to start;
// a dead owner's lock (kill -9) is taken over, so a restart just works.
import fs from 'node:fs';
import path from 'node:path';

export class DataDirLockedError extends Error {}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false; // a lock naming our own pid was left by an earlier life (e.g. pid 1 in a container)
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
  const file = path.join(dataDir, 'server.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
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
    const owner = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(owner) && isAlive(owner)) {
      throw new DataDirLockedError(
        `data folder ${path.resolve(dataDir)} is in use by process ${owner}; stop it or set DATA_DIR to another folder`,
      );
    }
    // Stale lock from a process that is gone. Move it aside under a private name first, so that of two processes
    // taking over at once only one removes the stale file, and neither removes the other's fresh lock.
    const aside = `${file}.${process.pid}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = Number.parseInt(fs.readFileSync(aside, 'utf8'), 10);
    if (moved !== owner) {
      fs.renameSync(aside, file); // it was a fresh lock taken in between: put it back, and look again
      continue;
    }
    fs.unlinkSync(aside);
  }
  throw new DataDirLockedError(`could not take the lock on data folder ${path.resolve(dataDir)}`);
}
