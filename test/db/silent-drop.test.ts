// Connections that a NAT, a load balancer or a failover drops without a word: no error, no end, just no answer. A
// TCP proxy between the server's database layer and PostgreSQL stops forwarding on the connections it carries
// without closing them (new connections still go through), as such a network does.
//   - a pooled connection: the query fails within the client-side timeout (statement_timeout plus a margin), and
//     the connection is replaced;
//   - a LISTEN connection: its self-check (a NOTIFY to itself) does not come back, it is replaced with a warning, and
//     notifications arrive again; /readyz says "polling" meanwhile.
import net from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, usingPostgres, type TestDatabase } from '../helpers/database.js';

/** A TCP proxy to `target` that can black-hole the connections it carries at a given moment. */
class BlackHoleProxy {
  private readonly server: net.Server;
  private readonly live = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly all = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      const pair = { client, upstream };
      this.all.add(client).add(upstream);
      this.live.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const forget = () => {
        this.live.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', forget).on('close', forget);
      upstream.on('error', forget).on('close', forget);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Every connection open now stops carrying bytes either way, and stays open. */
  blackHole(): number {
    const count = this.live.size;
    for (const pair of this.live) {
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.client.pause();
      pair.upstream.pause();
    }
    this.live.clear();
    return count;
  }

  async close(): Promise<void> {
    for (const socket of this.all) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe.runIf(usingPostgres)('connections dropped silently (PostgreSQL)', () => {
  let database: TestDatabase;
  let proxy: BlackHoleProxy;
  let proxiedUrl: string;
  const handles: DatabaseHandle[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const url = new URL(database.url!);
    proxy = new BlackHoleProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    url.host = `127.0.0.1:${proxy.port}`;
    proxiedUrl = url.toString();
  });

  afterAll(async () => {
    for (const handle of handles) await handle.close({ graceMs: 500 });
    await proxy?.close();
    await database?.drop();
  });

  it('fails a query on a black-holed pooled connection within the client-side timeout, and replaces the connection', async () => {
    const warnings: string[] = [];
    const handle = await openDatabase({ databaseUrl: proxiedUrl, poolSize: 1, statementTimeoutMs: 500, queryTimeoutMarginMs: 500, warn: (message) => warnings.push(message) });
    handles.push(handle);
    await sql`SELECT 1`.execute(handle.db); // the pool's one connection, idle now
    expect(proxy.blackHole()).toBe(1);
    const started = Date.now();
    await expect(sql`SELECT 1`.execute(handle.db)).rejects.toThrow(/Connection terminated|no answer/);
    // TCP alone would take minutes; the client-side timeout is 1 s here.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(warnings.some((message) => /no answer in time; its connection is dropped and replaced/.test(message))).toBe(true);
    // A new connection serves the next query.
    const { rows } = await sql<{ n: number }>`SELECT 2 AS n`.execute(handle.db);
    expect(rows[0]!.n).toBe(2);
  }, 30_000);

  it('replaces a LISTEN connection that stopped delivering, with a warning, and delivers again', async () => {
    const warnings: string[] = [];
    const handle = await openDatabase({
      databaseUrl: proxiedUrl,
      listenCheckMs: 200,
      listenCheckTimeoutMs: 300,
      warn: (message) => warnings.push(message),
    });
    handles.push(handle);
    const received: string[] = [];
    await handle.listen('silent_drop_test', (payload) => received.push(payload));
    const notifier = new pg.Client({ connectionString: database.url });
    await notifier.connect();
    try {
      await notifier.query(`NOTIFY silent_drop_test, 'before'`);
      await until(() => received.includes('before'), 'the first notification');
      expect(handle.listening()).toBe(true);

      proxy.blackHole();
      await notifier.query(`NOTIFY silent_drop_test, 'lost'`);
      await until(() => !handle.listening(), 'the check to fail');
      await until(() => handle.listening(), 'the connection to be replaced');
      expect(warnings.some((message) => /LISTEN connection on silent_drop_test did not pass its check; replacing it/.test(message))).toBe(true);
      // Reconnecting wakes the listener once (''), for what it may have missed.
      await until(() => received.includes(''), 'the wake-up after reconnecting');
      await notifier.query(`NOTIFY silent_drop_test, 'after'`);
      await until(() => received.includes('after'), 'a notification on the new connection');
    } finally {
      await notifier.end();
    }
  }, 30_000);

  async function until(condition: () => boolean, what: string, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
});
