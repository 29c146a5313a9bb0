// The transport floor of POST /api/v2/users (bench/transport-floor.ts starts it): node:http, the same kind of upsert
// statement through pg with the server's RETURNING columns (rows left as arrays), and a canned response of the real
// server's bytes. No JSON parsing, validation, auth, rate limits, logging or representation: what any Node server
// that receives the request, runs one such statement and sends the same answer cannot do without.
import fs from 'node:fs';
import http from 'node:http';
import pg from 'pg';

const response = fs.readFileSync(process.env.FLOOR_RESPONSE);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.FLOOR_POOL ?? 8) });
const UPSERT = `INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom)
  SELECT u.key, u.value->>'name', u.value->>'image', 'user', '', '{}', NULL, false, NULL, coalesce(u.value->'custom', '{}')
  FROM jsonb_each(($1::jsonb)->'users') AS u ORDER BY u.key COLLATE "C"
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, image = excluded.image, custom = excluded.custom, updated_at = now()
  RETURNING users.id, users.role, users.teams, users.banned, users.shadow_banned, users.bypass_moderation,
  users.ban_expires, users.created_at, users.updated_at, users.last_active, users.deactivated_at, users.deleted_at,
  users.deletion, users.deactivation, users.revoke_tokens_issued_before, users.deletion_applied`;

const server = http.createServer((request, reply) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    pool.query({ text: UPSERT, values: [Buffer.concat(chunks).toString('utf8')], rowMode: 'array' }).then(
      () => {
        reply.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'content-length': response.length });
        reply.end(response);
      },
      (error) => {
        reply.writeHead(500);
        reply.end(String(error));
      },
    );
  });
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
