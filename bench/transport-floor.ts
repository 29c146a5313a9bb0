// `npx tsx bench/transport-floor.ts`: the server's CPU per 100-user upsert next to a transport floor (issue 24's
// "server CPU ≤ 1 ms" goal), on a throwaway database of BENCH_DATABASE_URL's server. The floor
// (transport-floor-server.mjs) receives the same request bodies over keep-alive HTTP, runs one upsert statement of the
// same shape with the same RETURNING columns through pg, and sends the real server's answer bytes, doing nothing
// else; whatever the server spends above it is its own work (JSON, validation, auth, rate limits, logs, rows, the
// representation). The two alternate over FLOOR_ROUNDS rounds of FLOOR_USERS new users, then the same users again.
// Not part of `npm run bench`: a measurement of what is physically left, run when the server's request path changes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startTransportFloor } from './floor.js';
import { BenchClient } from './http.js';
import { cpuSpentMs, median, postgresPids, processCpuMs, runConcurrently } from './measure.js';
import { API_KEY, startServerProcess } from './server.js';
import { makeBatches, upsertBody } from './workload.js';

const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const users = Number(process.env.FLOOR_USERS ?? 20_000);
const rounds = Number(process.env.FLOOR_ROUNDS ?? 3);
const concurrency = 8;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'transport-floor-'));

const admin = new pg.Client(adminUrl);
await admin.connect();
const name = `bench_floor_${Date.now()}`;
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
const secret = randomBytes(24).toString('base64url');
const stops: Array<() => Promise<unknown>> = [];
try {
  const real = await startServerProcess({ logFile: path.join(work, 'server.log'), env: { DATABASE_URL: url.toString(), STREAM_API_KEY: API_KEY, STREAM_API_SECRET: secret } });
  stops.push(() => real.stop());
  const serverClient = await BenchClient.create(real.url, API_KEY, secret, concurrency);
  stops.push(async () => serverClient.close());
  const answer = await serverClient.request('POST', '/api/v2/users', {}, upsertBody(makeBatches('sample', 100)[0]!));
  const floor = await startTransportFloor(url.toString(), answer.body, work, concurrency);
  stops.push(() => floor.stop());
  const floorClient = floor.client;

  const db = new pg.Client(url.toString());
  await db.connect();
  stops.push(() => db.end());
  const paths = [
    { name: 'server', client: serverClient, pid: real.pid },
    { name: 'floor', client: floorClient, pid: floor.pid },
  ];
  const pass = async (p: (typeof paths)[number], bodies: Buffer[]) => {
    const before = { own: processCpuMs([p.pid]), postgres: processCpuMs(postgresPids()) };
    const { seconds } = await runConcurrently(
      p.name,
      bodies.map((body) => async () => {
        const response = await p.client.request('POST', '/api/v2/users', {}, body);
        if (response.status !== 201) throw new Error(`${p.name}: HTTP ${response.status} ${response.body.toString().slice(0, 300)}`);
      }),
      concurrency,
    );
    return {
      cpuMs: cpuSpentMs(before.own, processCpuMs([p.pid])) / bodies.length,
      postgresMs: cpuSpentMs(before.postgres, processCpuMs(postgresPids())) / bodies.length,
      usersPerSecond: (bodies.length * 100) / seconds,
    };
  };
  const warm = makeBatches('warm', 2_000).map(upsertBody);
  for (const p of paths) for (let i = 0; i < 3; i++) await pass(p, warm);
  const results = new Map(paths.map((p) => [p.name, { fresh: [] as number[], update: [] as number[] }]));
  for (let round = 0; round < rounds; round++) {
    for (const p of round % 2 === 0 ? paths : [...paths].reverse()) {
      await db.query('TRUNCATE users CASCADE');
      await db.query('CHECKPOINT');
      const bodies = makeBatches(`r${round}-`, users).map(upsertBody);
      const fresh = await pass(p, bodies);
      await db.query('CHECKPOINT');
      const update = await pass(p, bodies);
      results.get(p.name)!.fresh.push(fresh.cpuMs);
      results.get(p.name)!.update.push(update.cpuMs);
      console.log(
        `round ${round + 1} ${p.name.padEnd(6)} CPU per request: new ${fresh.cpuMs.toFixed(2)} ms (PostgreSQL ${fresh.postgresMs.toFixed(2)} ms, ` +
          `${Math.round(fresh.usersPerSecond)} users/s), update ${update.cpuMs.toFixed(2)} ms (PostgreSQL ${update.postgresMs.toFixed(2)} ms, ${Math.round(update.usersPerSecond)} users/s)`,
      );
    }
  }
  for (const [pathName, { fresh, update }] of results) {
    console.log(`median ${pathName.padEnd(6)} CPU per 100-user request: new ${median(fresh).toFixed(2)} ms, update ${median(update).toFixed(2)} ms`);
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  fs.rmSync(work, { recursive: true, force: true });
}
