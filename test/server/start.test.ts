// The process as `npm start` runs it (scripts/start.mjs: the bundle in dist/, built when stale) on the embedded
// default: credentials generated on the first start and shown on that start only; and secrets kept out of git and
// out of the image.
// backend-independent: `npm start` on the embedded default, in a process of its own.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { ROOT, runNode } from '../helpers/process.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-test-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/**
 * Starts the server on the test's data folder, waits until it serves, runs the curl line it printed (while it serves),
 * stops it, and returns what it printed and what the curl line answered.
 */
async function startAndStop(): Promise<{ printed: string; curl: string; specStatus: number }> {
  const child = runNode(['scripts/start.mjs'], { DATA_DIR: dataDir, PORT: '0', WS_PORT: '0', STREAM_API_KEY: '', STREAM_API_SECRET: '', LOG_LEVEL: 'info' });
  await child.waitFor(/serving the Stream users API/, 60_000);
  const [line] = await child.waitFor(/^ +curl -s .*$/m, 10_000);
  const curl = execFileSync('bash', ['-c', line.trim()], { encoding: 'utf8' });
  const [, base] = await child.waitFor(/Server listening at (http:\/\/[\d.:]+)/, 10_000);
  const specStatus = (await fetch(`${base}/openapi.yaml`)).status;
  expect(await child.kill('SIGTERM')).toBe(0);
  return { printed: child.output(), curl, specStatus };
}

describe('server start on the embedded default', () => {
  it('prints a generated secret on the start that creates it, and never again; a working curl line on every start', async () => {
    const first = await startAndStop();
    const secret = /API secret: (\S+)/.exec(first.printed)?.[1];
    const key = /API key:\s+(\S+)/.exec(first.printed)?.[1];
    expect(secret).toMatch(/^[\w-]{40,}$/);
    expect(key).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.parse(first.curl)).toMatchObject({ users: [] });

    const second = await startAndStop();
    expect(second.printed).toContain(`API key:    ${key}`);
    expect(second.printed).not.toContain('API secret');
    expect(second.printed).not.toContain(secret!);
    expect(JSON.parse(second.curl)).toMatchObject({ users: [] });
    // The bundle reads the project's files from the project root: every migration ran, the API reference is served.
    // (A new data folder starts from the migrated template the build made; migrate() brings it up to date.)
    const database = await openDatabase({ dataDir });
    try {
      const applied = await database.db.selectFrom('schema_migrations').select('version').orderBy('version').execute();
      expect(applied.map((row) => row.version)).toEqual(fs.readdirSync(path.join(ROOT, 'migrations')).filter((file) => file.endsWith('.sql')).sort());
    } finally {
      await database.close();
    }
    expect(first.specStatus).toBe(200);
    // The token in the line expires: an hour.
    const token = /Authorization: ([\w.-]+)/.exec(second.printed)![1]!;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims.server).toBe(true);
    expect(claims.exp - claims.iat).toBe(3600);
  }, 120_000);
});

describe('secrets in the repository and the image', () => {
  it('keeps .env files out of git and out of the Docker build context', () => {
    for (const file of ['.gitignore', '.dockerignore']) {
      const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n').map((line) => line.trim());
      expect(lines, file).toContain('.env');
      expect(lines, file).toContain('.env.*');
    }
  });
});
