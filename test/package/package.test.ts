// The package as a team installs it into its own project: `npm pack`, the tarball installed into a scratch project
// outside the repository (registry dependencies only, from the npm cache), startServer() from a Vitest file of that
// project, and `npx stream-users-server --memory`.
// backend-independent: the packed package on the embedded engine in memory, in processes of its own.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StreamClient } from '@stream-io/node-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTypes } from '../../scripts/build.mjs';
import { ROOT } from '../helpers/process.js';

const versionOf = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version as string;

let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'package-test-'));
  // prepack's work, without rebuilding the bundle the global set-up made (other tests may be running it), and without
  // type-checking the sources again (the same declarations; `npm run typecheck` and CI's typecheck step check them).
  await buildTypes({ check: false });
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  fs.writeFileSync(
    path.join(scratch, 'package.json'),
    JSON.stringify({
      name: 'scratch-app',
      private: true,
      type: 'module',
      devDependencies: {
        'stream-users-server': `file:./${packed}`,
        '@stream-io/node-sdk': versionOf('@stream-io/node-sdk'),
        vitest: versionOf('vitest'),
      },
    }),
  );
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: scratch, stdio: 'pipe' });
}, 180_000);

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('installs with registry dependencies only, and ships no dev-only package as a dependency', () => {
    const installed = JSON.parse(fs.readFileSync(path.join(scratch, 'node_modules', 'stream-users-server', 'package.json'), 'utf8'));
    const ours = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    for (const name of Object.keys(installed.dependencies)) expect(Object.keys(ours.devDependencies), name).not.toContain(name);
    for (const name of ['typescript', 'vitest', 'tsx', 'esbuild', 'playwright-core']) expect(Object.keys(installed.dependencies)).not.toContain(name);
    expect(fs.existsSync(path.join(scratch, 'node_modules', 'stream-users-server', 'dist', 'index.d.ts'))).toBe(true);
  });

  it("runs a Vitest file of the user's project: two servers from startServer, node-sdk calls, one cleared, both stopped", () => {
    fs.writeFileSync(
      path.join(scratch, 'double.test.ts'),
      `import { StreamClient } from '@stream-io/node-sdk';
import { startServer, type StreamUsersServer } from 'stream-users-server';
import { afterAll, beforeAll, expect, it } from 'vitest';

let one: StreamUsersServer;
let two: StreamUsersServer;
beforeAll(async () => {
  [one, two] = await Promise.all([startServer(), startServer()]);
});
afterAll(async () => {
  await Promise.all([one?.stop(), two?.stop()]);
});

const sdk = (server: StreamUsersServer) => new StreamClient(server.apiKey, server.apiSecret, { basePath: server.url });

it('keeps two servers apart, and clears one', async () => {
  expect(one.url).not.toBe(two.url);
  await sdk(one).upsertUsers([{ id: 'ann', name: 'Ann', custom: { book: 'dune' } }]);
  await sdk(two).upsertUsers([{ id: 'bob', name: 'Bob' }]);
  const found = await sdk(one).queryUsers({ payload: { filter_conditions: { book: 'dune' } } });
  expect(found.users.map((user) => user.id)).toEqual(['ann']);
  await one.clear();
  expect((await sdk(one).queryUsers({ payload: { filter_conditions: {} } })).users).toEqual([]);
  expect((await sdk(two).queryUsers({ payload: { filter_conditions: {} } })).users.map((user) => user.id)).toEqual(['bob']);
});
`,
    );
    // Vitest's default 10 s hook timeout is for the user's machine; on a loaded CI machine two starts side by side can
    // take longer. A failure shows the inner run's own output (its reporter can crash on Node 20 while printing errors).
    let output: string;
    try {
      output = execFileSync('npx', ['vitest', 'run', '--reporter=verbose', '--hookTimeout=60000', '--testTimeout=60000'], {
        cwd: scratch,
        encoding: 'utf8',
        stdio: 'pipe',
        env: { ...process.env, DATABASE_URL: '' },
      });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`the user's Vitest run failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
    }
    expect(output).toMatch(/1 passed/);
  }, 120_000);

  it('`npx stream-users-server --memory --port 0 --json` prints one line, answers with it, and writes no file', async () => {
    const before = fs.readdirSync(scratch).sort();
    // A process group of its own: npx runs the command in a child, and the whole group is stopped at the end.
    const child = spawn('npx', ['stream-users-server', '--memory', '--port', '0', '--json'], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, DATABASE_URL: '' } });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk;
          if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
        });
        child.stderr.on('data', (chunk: Buffer) => (err += chunk));
        child.on('exit', (code) => reject(new Error(`exited ${code} before printing its line:\n${out}\n${err}`)));
      });
      const printed = JSON.parse(line);
      expect(Object.keys(printed).sort()).toEqual(['api_key', 'api_secret', 'url']);
      const client = new StreamClient(printed.api_key, printed.api_secret, { basePath: printed.url });
      await client.upsertUsers([{ id: 'from-npx' }]);
      expect((await client.queryUsers({ payload: { filter_conditions: { id: 'from-npx' } } })).users).toHaveLength(1);
    } finally {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
    // Memory mode: no data folder, no credentials file, no lock.
    expect(fs.readdirSync(scratch).sort()).toEqual(before);
  }, 60_000);
});
