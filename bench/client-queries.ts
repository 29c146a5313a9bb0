// How long a user token's queryUsers holds the embedded engine (PGlite runs in the server's process and cannot interrupt
// a statement), refused by the client query cap or not, at BENCH_CLIENT_QUERY_USERS users (200,000 by default).
// Each shape is sent as a user token and, for comparison, server-side (which keeps the whole language, uncapped):
// the time of a request is the time the engine was held, since nothing else runs on it meanwhile.
//
//   npx tsx bench/client-queries.ts            (BENCH_CLIENT_QUERY_USERS, BENCH_CLIENT_QUERY_RUNS to change the sizes)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { buildApp } from '../src/app.js';
import { credentialsOf } from '../src/auth/core.js';
import { signServerToken, signUserToken } from '../src/auth/jwt.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { isRareNameAutocomplete, plannedQueryCost, prepareQueryUsers } from '../src/users/store/query.js';
import { bulkLoadUsersSql, COLORS, COMMON_PREFIX, RARE_PREFIX, TEAMS } from './workload.js';

const USERS = Number(process.env.BENCH_CLIENT_QUERY_USERS ?? 200_000);
const RUNS = Number(process.env.BENCH_CLIENT_QUERY_RUNS ?? 5);
const KEY = 'benchkey';
const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

const SHAPES: Array<{ name: string; payload: Record<string, unknown>; expensive: boolean }> = [
  { name: 'sort on a custom field', payload: { filter_conditions: {}, sort: [{ field: 'n', direction: -1 }] }, expensive: true },
  { name: '$gt on a custom field (few match)', payload: { filter_conditions: { n: { $gt: USERS - 5 } } }, expensive: true },
  { name: '$exists on a custom field (none has it)', payload: { filter_conditions: { nickname: { $exists: true } } }, expensive: true },
  { name: 'language, common value', payload: { filter_conditions: { language: 'en' } }, expensive: false },
  { name: 'language, rare value', payload: { filter_conditions: { language: 'is' } }, expensive: true },
  { name: 'id $eq', payload: { filter_conditions: { id: 'q0000042' } }, expensive: false },
  { name: 'custom $eq, one match', payload: { filter_conditions: { n: 4242 } }, expensive: false },
  { name: 'custom $eq, no match', payload: { filter_conditions: { book: 'dune' } }, expensive: false },
  { name: 'custom $eq, one match, limit 100', payload: { filter_conditions: { n: 4242 }, limit: 100 }, expensive: false },
  { name: 'default order, limit 100, offset 900', payload: { filter_conditions: {}, limit: 100, offset: 900 }, expensive: false },
  { name: `custom $eq, 1/${COLORS.length} of the users`, payload: { filter_conditions: { color: COLORS[0] } }, expensive: false },
  { name: 'name $autocomplete, common prefix', payload: { filter_conditions: { name: { $autocomplete: COMMON_PREFIX } } }, expensive: false },
  { name: 'name $autocomplete, rare prefix', payload: { filter_conditions: { name: { $autocomplete: RARE_PREFIX } } }, expensive: false },
  { name: 'teams $contains', payload: { filter_conditions: { teams: { $contains: TEAMS[0] } } }, expensive: false },
  { name: 'default order, no filter', payload: { filter_conditions: {} }, expensive: false },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-client-queries-'));
  const database = await openDatabase({ dataDir });
  try {
    await migrate(database.db);
    const t0 = performance.now();
    await sql.raw(bulkLoadUsersSql(USERS)).execute(database.db);
    // Languages: most users en, fr, de or es; one in 10,000 is (Icelandic), the rare value.
    await sql`UPDATE users SET language = CASE WHEN (custom ->> 'n')::int % 10000 = 7 THEN 'is' ELSE (ARRAY['en', 'fr', 'de', 'es'])[1 + (custom ->> 'n')::int % 4] END`.execute(database.db);
    await sql`VACUUM ANALYZE users`.execute(database.db);
    console.log(`loaded ${USERS.toLocaleString('en')} users in ${((performance.now() - t0) / 1000).toFixed(1)} s (PGlite, ${dataDir})`);

    const credentials = credentialsOf(KEY, SECRET);
    const app = await buildApp({ db: database.db, credentials, logger: false, rateLimit: { multiplier: 1000, overrides: {} } });
    const userToken = await signUserToken('q0000001', credentials.key, { iat: Math.floor(Date.now() / 1000) - 5 });
    const serverToken = await signServerToken(credentials.key, {});
    const send = async (payload: object, token: string) => {
      const started = performance.now();
      const response = await app.inject({
        method: 'GET',
        url: `/api/v2/users?api_key=${KEY}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
        headers: { 'stream-auth-type': 'jwt', authorization: token },
      });
      return { ms: performance.now() - started, status: response.statusCode };
    };

    console.log(`\nclient query cap (LIMIT_CLIENT_QUERY_COST): ${DEFAULT_LIMITS.clientQueryCost}; median of ${RUNS} runs each; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    console.log('| query | planned cost | user token: status | user token: engine held (ms) | server-side: engine held (ms) |');
    console.log('| --- | ---: | --- | ---: | ---: |');
    for (const shape of SHAPES) {
      const cost = (await isRareNameAutocomplete(database.db, shape.payload, DEFAULT_LIMITS))
        ? 0
        : await plannedQueryCost(database.db, await prepareQueryUsers(database.db, shape.payload, {}, DEFAULT_LIMITS));
      await send(shape.payload, userToken); // warm-up
      const user: Array<{ ms: number; status: number }> = [];
      for (let i = 0; i < RUNS; i++) user.push(await send(shape.payload, userToken));
      const server: number[] = [];
      for (let i = 0; i < Math.min(RUNS, 3); i++) server.push((await send(shape.payload, serverToken)).ms);
      const status = user[0]!.status === 200 ? '200' : `${user[0]!.status} (refused)`;
      console.log(`| ${shape.name} | ${Math.round(cost).toLocaleString('en')} | ${status} | ${median(user.map((r) => r.ms)).toFixed(1)} | ${median(server).toFixed(1)} |`);
    }
    await app.close();
  } finally {
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
