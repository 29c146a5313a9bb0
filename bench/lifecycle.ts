// Clean-up that runs on success, failure and Ctrl-C alike: temp dirs, server processes, pools, throwaway databases.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> = Promise.resolve();
let interrupted = false;
let workDir = '';

/** Registers `fn` to run (newest first) when the enclosing phase ends, or at exit. */
export function onCleanup(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

/** Runs the clean-ups registered after the first `keep`; one run at a time, in call order. */
export function runCleanups(keep = 0): Promise<void> {
  cleaning = cleaning.then(async () => {
    while (cleanups.length > keep) {
      const cleanup = cleanups.pop()!;
      try {
        await cleanup();
      } catch (error) {
        console.error(`clean-up failed: ${(error as Error).message}`);
      }
    }
  });
  return cleaning;
}

/** Runs `fn`, then the clean-ups it registered, success or not. */
export async function phase<T>(fn: () => Promise<T>): Promise<T> {
  const mark = cleanups.length;
  try {
    return await fn();
  } finally {
    await runCleanups(mark);
  }
}

export function isInterrupted(): boolean {
  return interrupted;
}

/** Installs the signal handlers and creates the work dir (PGlite data dirs, server logs), removed at the end. */
export function initLifecycle(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: cleaning up…`);
      void runCleanups().finally(() => process.exit(130));
    });
  }
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  onCleanup(async () => fs.rmSync(workDir, { recursive: true, force: true }));
}

export function workPath(name: string): string {
  if (!workDir) throw new Error('initLifecycle() first');
  return path.join(workDir, name);
}

/** A temp dir removed when the enclosing phase ends. */
export function tempDir(name: string): string {
  if (!workDir) throw new Error('initLifecycle() first');
  const dir = fs.mkdtempSync(path.join(workDir, `${name}-`));
  onCleanup(async () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function log(line: string): void {
  console.log(line);
}
