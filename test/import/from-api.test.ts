// `npm run import -- --from-api`: two servers, a source holding 6,000 users of every shape (six of the command's
// 1,000-user chunks) and a target; the command copies them, --verify passes, a second run changes nothing, and an
// interrupted run completes with --resume.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedWithoutTimeout } from '../helpers/database.js';
import { API_KEY, API_SECRET, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';
import { testBundle, runNode } from '../helpers/process.js';

const USERS = 6_000;
let source: TestServer;
let target: TestServer;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'import-api-'));

/** 6,000 users written as the database holds them (not through the import): every shape, from the number i. */
async function seedSource(server: TestServer) {
  await seedWithoutTimeout(server.database.db, sql`
    INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom, created_at, updated_at, last_active,
                       deactivated_at, revoke_tokens_issued_before)
    SELECT 'u' || CASE WHEN i % 7 = 0 THEN '@' WHEN i % 7 = 1 THEN '_' ELSE '-' END || lpad(i::text, 5, '0'),
      CASE WHEN i % 10 = 0 THEN NULL WHEN i % 3 = 0 THEN 'Zoë ' || i || ' 北京 🎉' ELSE 'User ' || i END,
      CASE WHEN i % 4 = 0 THEN 'https://example.com/' || i || '.png' END,
      (ARRAY['user', 'admin', 'moderator', 'guest', 'custom_role'])[1 + i % 5],
      (ARRAY['', 'en', 'fr', 'ja', 'pt-BR'])[1 + i % 5],
      CASE WHEN i % 6 = 0 THEN ARRAY['red', 'blue'] WHEN i % 6 = 1 THEN ARRAY['green'] ELSE '{}'::text[] END,
      CASE WHEN i % 6 = 0 THEN '{"red": "admin", "blue": "member"}'::jsonb END,
      i % 11 = 0,
      CASE WHEN i % 13 = 0 THEN '{"typing_indicators": {"enabled": false}, "read_receipts": {"enabled": true}}'::jsonb END,
      CASE WHEN i % 9 = 0 THEN '{}'::jsonb ELSE jsonb_build_object('n', i, 'tags', jsonb_build_array('a', i % 3), 'nested',
        jsonb_build_object('deep', jsonb_build_object('flag', i % 2 = 0)), 'nothing', NULL, 'ratio', i::float8 / 8, 'text', 'ünï ' || i) END,
      timestamptz '2015-01-01 00:00:00+00' + i * interval '1 hour 1.234567 second',
      timestamptz '2020-01-01 00:00:00+00' + i * interval '37 minutes 0.000123 second',
      CASE WHEN i % 3 <> 0 THEN timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute 0.000001 second' END,
      CASE WHEN i % 17 = 0 THEN timestamptz '2024-06-01 00:00:00+00' + i * interval '1 second' END,
      CASE WHEN i % 19 = 0 THEN timestamptz '2024-07-01 00:00:00+00' + i * interval '1 second' END
    FROM generate_series(1, ${USERS - 10}) AS i`);
  // Blocks, some of users later in id order (they arrive in a later chunk).
  await sql`
    INSERT INTO user_blocks (user_id, blocked_user_id)
    SELECT a.id, b.id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users) a
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users) b ON b.n IN (a.n + 1, a.n + 2500, a.n - 3)
    WHERE a.n % 97 = 0`.execute(server.database.db);
  // And through the API: users made by the SDK, a deactivation, a revocation, a block.
  await server.client.upsertUsers(
    Array.from({ length: 10 }, (_, i) => ({ id: `sdk-${i}`, name: `SDK ✓ ${i}`, role: i % 2 ? 'admin' : 'user', teams: ['red'], custom: { i, list: [i, { x: 'y' }] } })),
  );
  await server.client.deactivateUser({ user_id: 'sdk-1' });
  await server.client.updateUsersPartial({ users: [{ id: 'sdk-2', set: { revoke_tokens_issued_before: new Date('2025-01-01T00:00:00.123Z') } as never }] });
  await server.client.blockUsers({ user_id: 'sdk-3', blocked_user_id: 'u-00002' });
  const { task_id } = await server.client.deactivateUsers({ user_ids: ['sdk-4', 'sdk-5'] });
  expect((await waitForTask(server.client, task_id)).status).toBe('completed');
}

beforeAll(async () => {
  [source, target] = await Promise.all([startTestServer({ webhooks: false }), startTestServer({ worker: false, webhooks: false })]);
  await seedSource(source);
}, 60_000);

afterAll(async () => {
  await Promise.all([source?.close(), target?.close()]);
  fs.rmSync(scratch, { recursive: true, force: true });
});

function importArgs(to: TestServer, checkpoint: string, extra: string[] = []) {
  return [
    '--from-api', source.baseUrl, '--key', API_KEY, '--secret', API_SECRET,
    '--to', to.baseUrl, '--to-key', API_KEY, '--to-secret', API_SECRET,
    '--checkpoint', checkpoint, ...extra,
  ];
}

/** Runs the command to its end; its JSON report and exit status. */
async function importCommand(args: string[]): Promise<{ status: number | null; report: any; output: string }> {
  const child = runCli(args);
  const status = await child.exited;
  const output = child.output();
  const json = output.split('\n').find((line) => line.startsWith('{'));
  return { status, report: json ? JSON.parse(json) : undefined, output };
}

/** Every kept field and block of every user, hashed: equal on two databases holding the same users. */
async function fingerprint(server: TestServer): Promise<string> {
  const result = await sql<{ hash: string; n: number }>`
    SELECT count(*)::int AS n, md5(string_agg(concat_ws('|', id, name, image, role, language, teams::text, teams_role::text, invisible,
      privacy_settings::text, custom::text, created_at, updated_at, last_active, deactivated_at, deleted_at, revoke_tokens_issued_before,
      (SELECT string_agg(blocked_user_id, ',' ORDER BY blocked_user_id) FROM user_blocks b WHERE b.user_id = users.id)), E'\n' ORDER BY id)) AS hash
    FROM users`.execute(server.database.db);
  expect(result.rows[0]!.n).toBe(USERS);
  return result.rows[0]!.hash;
}

/** The command in a child process of its own (SIGINT reaches it, as Ctrl-C would). */
function runCli(args: string[]) {
  return runNode([testBundle('import-cli'), ...args], {});
}

describe('npm run import -- --from-api', () => {
  it('copies every user, and --verify finds no difference', async () => {
    const checkpoint = path.join(scratch, 'full.json');
    const first = await importCommand([...importArgs(target, checkpoint), '--verify', '--json']);
    expect(first.status, first.output).toBe(0);
    expect(first.report).toMatchObject({ status: 'complete', totals: { imported: USERS, unchanged: 0, failed: 0 } });
    expect(first.report.verify).toMatchObject({ checked: USERS, differing: 0, missing: 0 });

    // What the SDK reads from both sides is the same, spot-checked on shapes the verify compares.
    for (const id of ['sdk-1', 'sdk-2', 'sdk-3', 'u@00007', 'u-00006', 'u_00001']) {
      const payload = { filter_conditions: { id }, include_deactivated_users: true };
      const [a, b] = await Promise.all([source.client.queryUsers({ payload }), target.client.queryUsers({ payload })]);
      const strip = ({ online: _o, ...user }: Record<string, unknown>) => user;
      expect(strip(b.users[0] as never)).toEqual(strip(a.users[0] as never));
    }

    // A second run changes nothing.
    const second = await importCommand([...importArgs(target, checkpoint), '--json']);
    expect(second.status, second.output).toBe(0);
    expect(second.report.totals).toEqual({ imported: 0, unchanged: USERS, failed: 0 });
  }, 120_000);

  it('leaves committed chunks in place when interrupted, and --resume completes the import', async () => {
    const fresh = await startTestServer({ worker: false, webhooks: false });
    try {
      const checkpoint = path.join(scratch, 'resume.json');
      const child = runCli([...importArgs(fresh, checkpoint), '--chunk-size', '200', '--concurrency', '1', '--json']);
      // Interrupted once some chunks are committed.
      for (;;) {
        const state = fs.existsSync(checkpoint) ? JSON.parse(fs.readFileSync(checkpoint, 'utf8')) : undefined;
        if (state?.position) break;
        if (child.process.exitCode !== null) throw new Error(`finished before it was interrupted:\n${child.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      child.process.kill('SIGINT');
      expect(await child.exited, child.output()).toBe(130);
      const interrupted = JSON.parse(fs.readFileSync(checkpoint, 'utf8'));
      expect(interrupted.complete).toBe(false);
      const { count } = (await sql<{ count: number }>`SELECT count(*)::int AS count FROM users`.execute(fresh.database.db)).rows[0]!;
      expect(count).toBeGreaterThan(0);
      expect(count).toBeLessThan(USERS);
      // Every user the checkpoint says is done is there.
      expect(count).toBeGreaterThanOrEqual(interrupted.totals.imported);

      const resumed = await importCommand([...importArgs(fresh, checkpoint), '--resume', '--json']);
      expect(resumed.status, resumed.output).toBe(0);
      expect(resumed.report.status).toBe('complete');
      expect(resumed.report.totals.imported + resumed.report.totals.unchanged).toBe(USERS);
      // The same users as the source, field by field and block by block (the first test compares through --verify).
      expect(await fingerprint(fresh)).toBe(await fingerprint(source));
    } finally {
      await fresh.close();
    }
  }, 120_000);
});
