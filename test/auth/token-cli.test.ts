// `npm run token`: tokens for curl, made from the running configuration; the api_key on stderr; usage on bad input.
// backend-independent: the token command on the embedded default, in processes of their own.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCredentialsFile } from '../../src/auth/credentials-file.js';
import { testBundle, ROOT } from '../helpers/process.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'token-cli-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function token(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [testBundle('token-cli'), ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', STREAM_API_KEY: 'cli-key', STREAM_API_SECRET: 'cli-secret-0123456789', ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function claims(stdout: string, secret = 'cli-secret-0123456789') {
  expect(stdout.trim().split('\n')).toHaveLength(1);
  const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(secret), { algorithms: ['HS256'] });
  return payload;
}

describe('npm run token', () => {
  it('prints a server-side token on stdout and the api_key on stderr', async () => {
    const result = token([]);
    expect(result.status).toBe(0);
    expect(await claims(result.stdout)).toEqual({ server: true });
    expect(result.stderr.trim()).toBe('api_key: cli-key');
  });

  it('--user makes a user token with iat; --exp makes it expire', async () => {
    const user = await claims(token(['--user', 'alice']).stdout);
    expect(user).toMatchObject({ user_id: 'alice' });
    expect(Math.abs((user.iat as number) - Date.now() / 1000)).toBeLessThan(30);
    expect(user).not.toHaveProperty('exp');

    const expiring = await claims(token(['--user', 'alice', '--exp', '600']).stdout);
    expect((expiring.exp as number) - (expiring.iat as number)).toBe(600);
    const server = await claims(token(['--exp', '60']).stdout);
    expect(server).toMatchObject({ server: true });
    expect((server.exp as number) - Date.now() / 1000).toBeGreaterThan(30);
  });

  it('reads the credentials generated on the embedded default, which the server keeps in DATA_DIR', async () => {
    writeCredentialsFile(dataDir, { apiKey: 'generated-key', apiSecret: 'generated-secret-abcdefghij' });
    expect(fs.statSync(path.join(dataDir, 'credentials.json')).mode & 0o777).toBe(0o600);
    const result = token([], { STREAM_API_KEY: '', STREAM_API_SECRET: '', DATA_DIR: dataDir });
    expect(result.status).toBe(0);
    expect(await claims(result.stdout, 'generated-secret-abcdefghij')).toEqual({ server: true });
    expect(result.stderr.trim()).toBe('api_key: generated-key');
  });

  it('says how to get credentials when there are none', () => {
    const result = token([], { STREAM_API_KEY: '', STREAM_API_SECRET: '', DATA_DIR: path.join(dataDir, 'never-started') });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('start the server once');
  });

  it.each([
    ['an unknown option', ['--admin']],
    ['a positional argument', ['alice']],
    ['--user without a value', ['--user']],
    ['an invalid user id', ['--user', 'not valid!']],
    ['--exp that is not a number', ['--exp', 'soon']],
    ['--exp of zero', ['--exp', '0']],
  ])('refuses %s with a usage message and status 2', (_name, args) => {
    const result = token(args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('usage: npm run -s token');
  });
});
