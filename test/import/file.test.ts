// `npm run import -- FILE`: v1, v2 and export lines in one file, a malformed line and a refused user reported by their
// file line, --max-errors, gzip on stdin, --verify, bad arguments and an unreachable target.
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { testBundle, ROOT } from '../helpers/process.js';
import { parseOptions, UsageError } from '../../src/import/options.js';
import { API_KEY, API_SECRET, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'import-file-'));

beforeAll(async () => {
  server = await startTestServer({ worker: false, webhooks: false });
});

afterAll(async () => {
  await server.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function cli(args: string[], stdin?: Buffer): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [testBundle('import-cli'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const to = (extra: string[] = []) => ['--to', server.baseUrl, '--to-key', API_KEY, '--to-secret', API_SECRET, '--checkpoint', path.join(scratch, `cp-${Math.random()}.json`), ...extra];

const FILE_LINES = [
  JSON.stringify({ id: 'file-v2', name: 'Two', role: 'admin', teams: ['red'], custom: { color: 'red' }, created_at: 1_600_000_000_000_000_000, updated_at: '2021-01-01T00:00:00Z' }),
  JSON.stringify({ id: 'file-v1', name: 'One', color: 'blue', language: 'fr', created_at: '2019-01-01T00:00:00Z', updated_at: '2019-01-02T00:00:00Z', deactivated_at: '2019-01-03T00:00:00Z' }),
  '',
  JSON.stringify({ user: { id: 'file-export', custom: { from: 'export' }, created_at: 1_500_000_000_000_000_000, updated_at: 1_500_000_000_000_000_000, blocked_user_ids: ['file-v2'] }, messages: [], reactions: [] }),
  '{"id": "file-broken", ',
  JSON.stringify({ id: 'file-refused', custom: { big: 'x'.repeat(6000) } }),
  JSON.stringify({ id: 'file-last', name: 'Last', custom: {}, updated_at: '2022-01-01T00:00:00.000001Z' }),
];

describe('npm run import -- FILE', () => {
  it('imports v1, v2 and export lines, reports a malformed line and a refused user by file line, and verifies', async () => {
    const file = path.join(scratch, 'users.ndjson');
    fs.writeFileSync(file, `${FILE_LINES.join('\n')}\n`);

    // Refused users count against --max-errors (0 by default): the import stops and exits 1.
    const strict = await cli([file, ...to(['--json'])]);
    expect(strict.status, strict.stderr).toBe(1);
    const stopped = JSON.parse(strict.stdout);
    expect(stopped.status).toBe('failed');
    expect(stopped.error).toMatch(/more than 0 users were refused/);

    const result = await cli([file, ...to(['--max-errors', '2', '--verify', '--json'])]);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ status: 'complete', totals: { failed: 2 } });
    // The first run committed its chunk before stopping: the second finds those users unchanged.
    expect(report.totals.imported + report.totals.unchanged).toBe(4);
    expect(report.failures).toEqual([
      { where: 'line 5', id: null, message: 'the line is not valid JSON' },
      { where: 'line 6', id: 'file-refused', message: expect.stringMatching(/user "file-refused" is too large/) },
    ]);
    expect(report.verify).toMatchObject({ checked: 4, differing: 0, missing: 0, skipped: 2 });

    const { users } = await server.client.queryUsers({ payload: { filter_conditions: { id: { $in: ['file-v1', 'file-v2', 'file-export', 'file-last'] } }, include_deactivated_users: true, sort: [{ field: 'id', direction: 1 }] } });
    expect(users.map((user) => user.id)).toEqual(['file-export', 'file-last', 'file-v1', 'file-v2']);
    expect(users[0]).toMatchObject({ custom: { from: 'export' }, blocked_user_ids: ['file-v2'] });
    expect(users[2]).toMatchObject({ name: 'One', language: 'fr', custom: { color: 'blue' } });
    expect(users[2]!.deactivated_at!.toISOString()).toBe('2019-01-03T00:00:00.000Z');
    expect(users[3]).toMatchObject({ role: 'admin', teams: ['red'] });

    // The human report names the lines on stderr.
    const again = await cli([file, ...to(['--max-errors', '5'])]);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/refused: line 5: the line is not valid JSON/);
    expect(again.stderr).toMatch(/complete: 0 imported, 4 unchanged, 2 refused/);
  }, 60_000);

  it('reads gzip from stdin, and --verify reports a difference with a non-zero exit', async () => {
    const lines = Array.from({ length: 250 }, (_, i) => JSON.stringify({ id: `gz-${String(i).padStart(3, '0')}`, name: `Gz ${i}`, custom: { i }, updated_at: '2020-01-01T00:00:00Z' }));
    const result = await cli(['-', ...to(['--chunk-size', '100', '--json'])], gzipSync(`${lines.join('\n')}\n`));
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).totals).toEqual({ imported: 250, unchanged: 0, failed: 0 });

    await server.client.updateUsersPartial({ users: [{ id: 'gz-007', set: { name: 'Changed' } }] });
    const file = path.join(scratch, 'gz.ndjson.gz');
    fs.writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
    const verified = await cli([file, ...to(['--verify', '--json'])]);
    expect(verified.status).toBe(1);
    const report = JSON.parse(verified.stdout);
    expect(report.verify).toMatchObject({ checked: 250, differing: 1, missing: 0 });
    expect(report.verify.differences[0]).toMatch(/user "gz-007": name: source "Gz 7", target "Changed"/);
  }, 60_000);

  it('retries a chunk answered 503, and waits as a 429 says before sending it again', async () => {
    // A proxy in front of the server that refuses the first two chunks it sees: 503, then 429 with Retry-After.
    const answers: number[] = [];
    const proxy = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (data: Buffer) => chunks.push(data));
      request.on('end', async () => {
        if (request.url?.startsWith('/operator/import') && answers.length < 2) {
          const status = answers.length === 0 ? 503 : 429;
          answers.push(status);
          response.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '1' } : {}) });
          response.end(JSON.stringify({ code: status === 429 ? 9 : -1, message: 'not now', StatusCode: status }));
          return;
        }
        if (request.url?.startsWith('/operator/import')) answers.push(200);
        const forwarded = await fetch(new URL(request.url!, server.baseUrl), {
          method: request.method,
          headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name)).map(([name, value]) => [name, String(value)])),
          body: request.method === 'GET' ? undefined : Buffer.concat(chunks),
        });
        response.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' });
        response.end(Buffer.from(await forwarded.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (proxy.address() as { port: number }).port;
      const line = JSON.stringify({ id: 'retried-user', name: 'Retried', custom: {} });
      const started = Date.now();
      const result = await cli(['-', '--to', `http://127.0.0.1:${port}`, '--to-key', API_KEY, '--to-secret', API_SECRET, '--checkpoint', path.join(scratch, 'retry.json'), '--json'], Buffer.from(`${line}\n`));
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).totals).toEqual({ imported: 1, unchanged: 0, failed: 0 });
      expect(answers).toEqual([503, 429, 200]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 60_000);

  it('answers bad arguments with usage and exit 2, an unreachable target with a clear message and exit 1', async () => {
    const bad = [[], ['--from-api', 'http://x', '--key', 'k'], ['a', 'b'], ['no-such-file.ndjson'], ['-', '--on-conflict', 'maybe'],
      ['-', '--concurrency', '0'], ['-', '--chunk-size', '10001'], ['-', '--bogus'], ['-', '--to', 'ftp://x'], ['-', '--to-key', 'k']];
    for (const args of bad) expect(() => parseOptions(args), args.join(' ')).toThrow(UsageError);
    expect(parseOptions(['-'])).toMatchObject({ file: '-', onConflict: 'newer', concurrency: 2, chunkSize: 5000, maxErrors: 0, verify: false });
    const usage = await cli(['--bogus']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/usage:/);
    const port = await freePort();
    const unreachable = await cli(['-', '--to', `http://127.0.0.1:${port}`, '--to-key', 'k', '--to-secret', 's'], Buffer.from('{"id": "x"}\n'));
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toMatch(/the target at http:\/\/127\.0\.0\.1:\d+ could not be reached: ECONNREFUSED/);
    const refused = await cli(['-', '--to', server.baseUrl, '--to-key', API_KEY, '--to-secret', 'wrong-secret'], Buffer.from('{"id": "x"}\n'));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/the target refused the credentials \(401\)/);
  }, 60_000);
});
