// The transport floor of POST /api/v2/users (bench/transport-floor.ts starts it): node:http, the same kind of upsert
// statement through pg with the server's RETURNING columns (rows left as arrays), and a canned response of the real
// server's bytes. No JSON parsing, validation, auth, rate limits, logging or representation: what any Node server
// that receives the request, runs one such statement and sends the same answer cannot do without.
//
// With FLOOR_QUERY_ANSWERS (a JSON file: shape name → the real server's answer, base64), it is the floor of queryUsers
// too: POST /query with {shape, sql, parameters} (the statement the server would run, compiled by the bench) runs it
// through pg on a connection with the server's session settings (FLOOR_PG_OPTIONS), leaves its values undecoded and sends that shape's
// canned answer.
import fs from 'node:fs';
import http from 'node:http';
import pg from 'pg';

const response = fs.readFileSync(process.env.FLOOR_RESPONSE);
const queryAnswers = new Map(
  Object.entries(process.env.FLOOR_QUERY_ANSWERS ? JSON.parse(fs.readFileSync(process.env.FLOOR_QUERY_ANSWERS, 'utf8')) : {}).map(
    ([shape, base64]) => [shape, Buffer.from(base64, 'base64')],
  ),
);
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.FLOOR_POOL ?? 8),
  options: process.env.FLOOR_PG_OPTIONS,
});
const UPSERT = `INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom)
  SELECT u.key, u.value->>'name', u.value->>'image', 'user', '', '{}', NULL, false, NULL, coalesce(u.value->'custom', '{}')
  FROM jsonb_each(($1::jsonb)->'users') AS u ORDER BY u.key COLLATE "C"
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, image = excluded.image, custom = excluded.custom, updated_at = now()
  RETURNING users.id, users.role, users.teams, users.banned, users.shadow_banned, users.bypass_moderation,
  users.ban_expires, users.created_at, users.updated_at, users.last_active, users.deactivated_at, users.deleted_at,
  users.deletion, users.deactivation, users.revoke_tokens_issued_before, users.deletion_applied`;

/** A query's values as the bare SQL of the bench receives them: text, undecoded (the least any server could do). */
const UNDECODED = { getTypeParser: () => (value) => value };

const server = http.createServer((request, reply) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const query = request.url.startsWith('/query') ? JSON.parse(body) : undefined;
    const answer = query ? queryAnswers.get(query.shape) : response;
    const run = query ? { text: query.sql, values: query.parameters, rowMode: 'array', types: UNDECODED } : { text: UPSERT, values: [body], rowMode: 'array' };
    pool.query(run).then(
      () => {
        reply.writeHead(query ? 200 : 201, { 'content-type': 'application/json; charset=utf-8', 'content-length': answer.length });
        reply.end(answer);
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
