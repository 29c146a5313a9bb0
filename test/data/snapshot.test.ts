// Snapshots: GET /operator/users.jsonl writes every user in the import format; a server started on that file
// (IMPORT_FILE, --import) gives back the same users, field by field, with no webhook sent; --export-on-exit writes one
// on SIGTERM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { StreamChat } from 'stream-chat';
import { StreamClient } from '@stream-io/node-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/process.js';
import { API_KEY, API_SECRET, startTestServer, waitForTask, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapshot-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Users with every field a user may hold: through node-sdk and stream-chat, as an app would make them. */
async function seedEveryField(server: TestServer) {
  const { client } = server;
  await client.upsertUsers([
    {
      id: 'ann',
      name: 'Ann Ö 🚀',
      image: 'https://example.com/ann.png',
      role: 'admin',
      teams: ['red', 'blue'],
      teams_role: { red: 'admin', blue: 'user' },
      language: 'fr',
      invisible: true,
      privacy_settings: { typing_indicators: { enabled: false }, read_receipts: { enabled: true } },
      custom: { book: 'dune', nested: { list: [1, 'two', null] } },
    },
    { id: 'bob', name: 'Bob' },
    { id: 'cy', name: 'Cy', custom: { gone: true } },
    { id: 'dee' },
  ]);
  await client.updateUsersPartial({ users: [{ id: 'bob', set: { revoke_tokens_issued_before: new Date('2026-01-02T03:04:05.678Z') as unknown as string } }] });
  await client.blockUsers({ user_id: 'ann', blocked_user_id: 'bob' });
  await client.deactivateUser({ user_id: 'dee' });
  const { task_id } = await client.deleteUsers({ user_ids: ['cy'], user: 'soft' });
  await waitForTask(client, task_id);
  // last_active, from a user-token request.
  const chat = new StreamChat(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true });
  await chat.connectUser({ id: 'ann' }, new StreamChat(API_KEY, API_SECRET).createToken('ann'));
  await chat.disconnectUser();
}

describe('snapshots', () => {
  let source: TestServer;
  let target: TestServer;
  let receiver: Receiver;
  let snapshot: string;

  beforeAll(async () => {
    receiver = await startReceiver();
    source = await startTestServer({ worker: { pollMs: 100 } });
    await sql`INSERT INTO app_settings (id) VALUES (1) ON CONFLICT DO NOTHING`.execute(source.database.db);
    await seedEveryField(source);
    const response = await source.request('GET', '/operator/users.jsonl');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    snapshot = response.text;
    const file = path.join(dir, 'users.jsonl');
    fs.writeFileSync(file, snapshot);
    // The target has a hook for every event before it loads the file: loading must send none.
    target = await startTestServer({
      config: { importFile: file },
      webhooks: { pollMs: 100 },
      prepare: async (database) => {
        await sql`INSERT INTO app_settings (id, webhook_url) VALUES (1, ${receiver.url('/hook')}) ON CONFLICT (id) DO UPDATE SET webhook_url = EXCLUDED.webhook_url`.execute(database.db);
      },
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
    await receiver?.close();
  });

  it('writes every user, deleted and deactivated ones included, in id order, one JSON object per line', () => {
    const users = snapshot.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(users.map((user) => user.id)).toEqual(['ann', 'bob', 'cy', 'dee']);
    expect(users[0]).toMatchObject({ blocked_user_ids: ['bob'], teams_role: { red: 'admin', blue: 'user' }, invisible: true, language: 'fr', role: 'admin' });
    expect(users[0].last_active).toBeDefined();
    expect(users[1].revoke_tokens_issued_before).toBeDefined();
    expect(users[2].deleted_at).toBeDefined();
    expect(users[3].deactivated_at).toBeDefined();
  });

  it('gives back the same users, field by field, from a server started on the file', async () => {
    const again = await target.request('GET', '/operator/users.jsonl');
    expect(again.text).toBe(snapshot);
  });

  it('sends no webhook while loading the file', async () => {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_deliveries`.execute(target.database.db);
    expect(rows[0]!.n).toBe(0);
    // The hook works: a change after the start is delivered.
    await target.client.upsertUsers([{ id: 'after-start' }]);
    await receiver.waitFor((received) => received.length > 0);
    expect(receiver.received.every((request) => request.body.includes('after-start'))).toBe(true);
  });

  it('requires server-side auth', async () => {
    const token = new StreamChat(API_KEY, API_SECRET).createToken('ann');
    const response = await source.request('GET', '/operator/users.jsonl', { headers: { authorization: token } });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe(17);
  });
});

describe('the command with --import and --export-on-exit', () => {
  it('starts on the file, and writes the users as they are on SIGTERM', async () => {
    const input = path.join(dir, 'in.jsonl');
    const output = path.join(dir, 'out.jsonl');
    fs.writeFileSync(input, `${JSON.stringify({ id: 'from-file', name: 'From File', custom: { a: 1 } })}\n${JSON.stringify({ id: 'v1-form', color: 'red' })}\n`);
    const child = runNode(['bin/stream-users-server.mjs', '--memory', '--port', '0', '--json', '--import', input, '--export-on-exit', output], {});
    try {
      const [line] = await child.waitFor(/^\{"url".*\}$/m, 60_000);
      const printed = JSON.parse(line);
      const client = new StreamClient(printed.api_key, printed.api_secret, { basePath: printed.url });
      const { users } = await client.queryUsers({ payload: { filter_conditions: { id: { $in: ['from-file', 'v1-form'] } }, sort: [{ field: 'id', direction: 1 }] } });
      expect(users.map((user) => [user.id, user.custom])).toEqual([
        ['from-file', { a: 1 }],
        ['v1-form', { color: 'red' }],
      ]);
      await client.upsertUsers([{ id: 'added' }]);
    } finally {
      expect(await child.kill('SIGTERM')).toBe(0);
    }
    const written = fs.readFileSync(output, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line).id);
    expect(written).toEqual(['added', 'from-file', 'v1-form']);
  }, 90_000);

  it('refuses to start on a file with a line it cannot load, naming the line', async () => {
    const input = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(input, `${JSON.stringify({ id: 'fine' })}\nnot json\n`);
    const child = runNode(['bin/stream-users-server.mjs', '--memory', '--port', '0', '--import', input], {});
    expect(await child.exited).toBe(1);
    expect(child.output()).toMatch(/IMPORT_FILE: .*bad\.jsonl: line 2/);
  }, 60_000);
});
