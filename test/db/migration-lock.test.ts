// Migrations have limits of their own: a start that finds another instance migrating waits for the migration lock
// (logging while it waits) past the requests' 5 s statement_timeout, up to MIGRATION_LOCK_WAIT_MS, and then exits
// non-zero with a clear message.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.js';
import { runServer, type Child } from '../helpers/process.js';
import { API_KEY, API_SECRET } from '../helpers/server.js';

/** migrate.ts's advisory lock key. */
const MIGRATION_LOCK_KEY = 7_301_955_021;
const HOLD_MS = 10_000;

describe.runIf(usingPostgres)('the migration lock', () => {
  let admin: pg.Client;
  let databaseName: string;
  let databaseUrl: string;
  const children: Child[] = [];

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    databaseName = `test_migration_lock_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${databaseName}`);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${databaseName}`;
    databaseUrl = url.toString();
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill('SIGKILL')));
    await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin?.end();
  });

  it('makes a second instance wait while the first holds it for 10 s, then start normally; one told to wait less exits 1', async () => {
    // The "first instance": a connection that holds the lock as a migrating instance does.
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const heldSince = Date.now();
    const env = { DATABASE_URL: databaseUrl, STREAM_API_KEY: API_KEY, STREAM_API_SECRET: API_SECRET, PORT: '0', WS_PORT: '0' };
    const patient = runServer(env);
    const impatient = runServer({ ...env, MIGRATION_LOCK_WAIT_MS: '1500' });
    children.push(patient, impatient);
    try {
      await patient.waitFor(/waiting for another instance's migrations/, 30_000);
      // The impatient one gives up with a clear message and a non-zero status, while the lock is still held.
      expect(await impatient.exited).toBe(1);
      expect(impatient.output()).toMatch(/another instance has held the migration lock for \d+ s \(MIGRATION_LOCK_WAIT_MS is 1500\); giving up/);
      expect(Date.now() - heldSince).toBeLessThan(HOLD_MS);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, HOLD_MS - (Date.now() - heldSince))));
    } finally {
      await holder.end();
    }
    const baseUrl = (await patient.waitFor(/serving the Stream users API on (http:\/\/[\d.:]+)/, 30_000))[1]!;
    const ready = await fetch(`${baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(patient.process.exitCode).toBeNull();
  }, 60_000);
});
