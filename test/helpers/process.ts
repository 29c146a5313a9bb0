// Runs an entry point in a child process of its own (a TypeScript one as its test bundle, the server as its bundle; no
// wrapper process, so a signal reaches the program itself) and lets a test wait for lines it prints. Every process a
// test starts goes through here (runCommand for one that is not node itself, e.g. under `unshare`).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The TypeScript entry points tests run as processes of their own (the import and token commands, the fixtures) and
 * the module the lock test's contenders load, bundled once per run by test/setup/bundle.ts into TEST_BUNDLE_DIR
 * (`<name>.mjs`): one module to load instead of a few hundred through tsx's loader, which cost every such process
 * seconds of CPU.
 */
export const TEST_BUNDLES = {
  'import-cli': 'src/import/cli.ts',
  'token-cli': 'src/auth/token-cli.ts',
  'data-dir-lock': 'src/db/lock.ts',
  'worker-process': 'test/fixtures/worker-process.ts',
  'pglite-panic': 'test/fixtures/pglite-panic.ts',
} as const;
export const TEST_BUNDLE_DIR = path.join(ROOT, 'node_modules', '.cache', 'test-bundles');

/** The path of an entry point's test bundle, e.g. `node <testBundle('import-cli')> --from-api …` for `npm run import`. */
export function testBundle(name: keyof typeof TEST_BUNDLES): string {
  return path.join(TEST_BUNDLE_DIR, `${name}.mjs`);
}

export interface Child {
  process: ChildProcess;
  /** Resolves once the process is running (its pid is one). */
  started: Promise<void>;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** An entry point of TEST_BUNDLES, as its bundle. */
export function runBundle(name: keyof typeof TEST_BUNDLES, env: Record<string, string | undefined>): Child {
  return runNode([testBundle(name)], env);
}

/**
 * The server, `src/server.ts`, as its bundle (dist/server.mjs, what `npm start` runs), which test/setup/bundle.ts
 * builds once per run: a second or more faster to start than the sources through tsx, for every process a test starts.
 */
export function runServer(env: Record<string, string | undefined>): Child {
  return runNode(['dist/server.mjs'], env);
}

/** `node <args>`, e.g. runNode(['scripts/start.mjs'], env) for the process `npm start` runs. */
export function runNode(args: string[], env: Record<string, string | undefined>): Child {
  return runCommand(process.execPath, args, env);
}

/** `command <args>`, with the environment runNode gives node. */
export function runCommand(command: string, args: string[], env: Record<string, string | undefined>): Child {
  const child = spawn(command, args, {
    cwd: ROOT,
    // No drain delay on SIGTERM unless a test asks for one (test/server/shutdown.test.ts does).
    env: { ...process.env, DATABASE_URL: undefined, SHUTDOWN_DRAIN_MS: '0', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<void>((resolve) => child.once('spawn', () => resolve()));
  return {
    process: child,
    started,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`));
        }, timeoutMs);
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(match);
          }
        };
        waiters.add(check);
        check();
        void exited.then(() => setTimeout(() => {
          if (waiters.has(check)) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`process exited before printing ${pattern}; output:\n${output}`));
          }
        }, 50));
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
