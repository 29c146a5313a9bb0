// Opens the database: PostgreSQL through a pg Pool when a URL is given, else the embedded PGlite in a data folder.
// Both are configured to parse values the same way: int8 → number, timestamptz → bigint microseconds.
//
// Neither may take the process down or leave it serving from a broken state:
//   PostgreSQL: every pooled client, and the dedicated LISTEN connection, has an error handler (a server restart
//   makes them emit errors that would otherwise be uncaught); the LISTEN connection is re-established until it holds;
//   each connection has a statement_timeout, so that no statement holds a connection for long.
//   PGlite runs inside this process and cannot interrupt a statement. If it reports a PANIC or aborts, its state is
//   gone: `onFatal` is called (the server exits at once, for its supervisor to restart it).
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect, PostgresDialect, sql, type Kysely, type Transaction } from 'kysely';
import pg from 'pg';
import { BytesBlob } from './bytes-blob.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { NotifyingKysely } from './notify.js';
import { preparedName } from './prepared.js';
import type { Database, Db } from './schema.js';
import { parsePgTimestamp } from './timestamps.js';

const INT8_OID = 20;
const TIMESTAMPTZ_OID = 1184;

const parsers: Record<number, (text: string) => unknown> = {
  [INT8_OID]: (text) => Number(text),
  [TIMESTAMPTZ_OID]: parsePgTimestamp,
};

export type Backend = 'postgres' | 'pglite';

export interface DatabaseHandle {
  db: Kysely<Database>;
  backend: Backend;
  /**
   * Subscribes to a NOTIFY channel; returns an unsubscribe function. On PostgreSQL the subscription survives lost
   * connections: it is re-established, and `onNotify('')` is called then, since notifications may have been missed.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Connections of the pool in use and waiting (PostgreSQL; PGlite has one connection). */
  poolState(): { total: number; idle: number; waiting: number };
  /**
   * Whether every LISTEN connection delivers notifications now (PostgreSQL; in-process on PGlite, always). False while
   * one is being replaced: work is then found by polling, and settings changed elsewhere arrive when the cache expires.
   */
  listening(): boolean;
  /**
   * Closes the database. Work still running (a task handler that outlived the shutdown's grace) is waited for up to
   * `graceMs`, then cut off: on PostgreSQL its connections are dropped, on PGlite the engine is left to the process's
   * exit. Closing never hangs.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /** The embedded engine's files as a tarball, which `loadDataDir` starts from (PGlite only; a migrated template). */
  dumpDataDir?(compression?: 'none' | 'gzip'): Promise<Blob>;
}

const CLOSE_GRACE_MS = 2_000;

/** Resolves true when `work` settles within `ms`, false when the time runs out first. */
function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(() => true, () => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** What the database layer reports: lost connections (recovered), and the fatal failure of the embedded engine. */
export interface DatabaseEvents {
  warn?(message: string, error: unknown): void;
  /** PGlite panicked or aborted: the process must stop serving at once. Default: report on stderr and exit(70). */
  onFatal?(error: unknown): void;
}

export interface DatabaseOptions extends DatabaseEvents {
  databaseUrl?: string;
  /** Folder for the embedded database; 'memory' (or 'memory://') keeps it in memory, with no files at all. */
  dataDir?: string;
  /** Pre-built embedded database contents (a dumpDataDir tarball) to start from, for fast test set-up. */
  loadDataDir?: Blob | File;
  poolSize?: number;
  /** PostgreSQL statement_timeout of every pooled connection; 0 turns it off. Default 5 s. */
  statementTimeoutMs?: number;
  /** How long opening a connection may take (the socket and the start-up exchange) before it fails. Default 2 s. */
  connectTimeoutMs?: number;
  /**
   * How long a query waits for a free connection of a full pool before failing (pg-pool's "timeout exceeded when
   * trying to connect", answered as a busy 503 by http/errors.ts). Default 5 s:
   * under a burst, requests queue for a connection rather than fail, as long as the queue moves.
   */
  poolWaitMs?: number;
  /**
   * How much longer than the statement_timeout in force a query may go without an answer before its connection is
   * dropped (PostgreSQL). Default 1 s. A statement_timeout of 0 (migrations) has no client-side limit either.
   */
  queryTimeoutMarginMs?: number;
  /** LISTEN connections check themselves this often (a NOTIFY to themselves); default 30 s. */
  listenCheckMs?: number;
  /** …and are replaced when the check does not come back within this; default 5 s. */
  listenCheckTimeoutMs?: number;
}

/** The statement_timeout in force where a query is sent from (ms; 0: none), when it is not the pool's own. */
const statementTimeoutInForce = new AsyncLocalStorage<number>();

/**
 * Runs `work` with another statement_timeout in force for the client-side query timeout of the queries it sends:
 * `work` sets the same on the server side itself (a task's transaction: `set_config('statement_timeout', …, true)`;
 * migrations: 0, no limit on either side).
 */
export function withStatementTimeout<T>(ms: number, work: () => Promise<T>): Promise<T> {
  return statementTimeoutInForce.run(ms, work);
}

/** Runs `work` in a transaction with no statement_timeout on either side: migrations, and bulk loads in tests. */
export function inTransactionWithoutTimeout<T>(db: Kysely<Database>, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return withStatementTimeout(0, () =>
    db.transaction().execute(async (trx) => {
      await sql`SET LOCAL statement_timeout = 0`.execute(trx);
      return work(trx);
    }),
  );
}

/** A pg client's socket, to drop a connection that does not answer. */
function socketOf(client: pg.ClientBase): { destroy(error?: Error): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(error?: Error): void } } }).connection?.stream;
}

/**
 * The client-side query timeout: a query that gets no answer within the statement_timeout in force plus a margin
 * is on a connection that is gone without saying so (a failover, a network partition, a NAT that dropped it). TCP
 * would take minutes to notice; the socket is destroyed instead, which fails the query (a 503 for a request) and
 * makes the pool replace the connection.
 */
function guardQueries(client: pg.PoolClient, defaultStatementMs: number, marginMs: number, warn: (message: string, error: unknown) => void) {
  const query = client.query as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = function guardedQuery(this: unknown, ...args: unknown[]) {
    // A registered statement goes as a named one: pg parses it once per connection (db/prepared.ts).
    const name = typeof args[0] === 'string' ? preparedName(args[0]) : undefined;
    const result = name === undefined ? query.apply(this, args) : query.call(this, { name, text: args[0], values: args[1] });
    const statementMs = statementTimeoutInForce.getStore() ?? defaultStatementMs;
    if (statementMs > 0 && result instanceof Promise) {
      const timer = setTimeout(() => {
        const error = new Error(`no answer from the database within ${statementMs + marginMs} ms; dropping the connection`);
        warn('a query got no answer in time; its connection is dropped and replaced', error);
        socketOf(client)?.destroy(error);
      }, statementMs + marginMs);
      timer.unref();
      const clear = () => clearTimeout(timer);
      result.then(clear, clear);
    }
    return result;
  };
}

/** PostgreSQL refusing a connection at its max_connections, or at a role's or database's CONNECTION LIMIT. */
const isTooManyConnections = (error: unknown) => (error as { code?: unknown } | null)?.code === '53300';

/**
 * A pool that treats PostgreSQL's connection limit like its own full pool. Several instances (or other programs) on
 * one server can hold all of its max_connections while this pool is below its own size; a new connection then fails
 * with "too many clients" at once, and a burst of requests got 503s that a moment's wait would have avoided: one
 * connection frees up as soon as any transaction of any instance ends. So a query that cannot open a connection for
 * that reason tries again, with a short back-off, until its POOL_WAIT_MS is spent (then it fails as busy, a 503
 * with Retry-After), taking a connection of this pool as soon as one is released.
 */
class PatientPool extends pg.Pool {
  /** The pool wait (pg-pool's connectionTimeoutMillis), from pg-pool's copy of the options (which hides the password). */
  private get waitMs(): number {
    return this.options.connectionTimeoutMillis ?? 0;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void) {
    // pg-pool's own query() passes a callback; Kysely awaits the promise. Only the latter waits out the limit.
    if (callback) return super.connect(callback as never);
    return this.connectWithin(Date.now() + this.waitMs);
  }

  private async connectWithin(deadline: number): Promise<pg.PoolClient> {
    for (let backoffMs = 10; ; backoffMs = Math.min(backoffMs * 2, 200)) {
      try {
        return await this.connectBefore(deadline);
      } catch (error) {
        if (!isTooManyConnections(error) || Date.now() + backoffMs >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
  }

  /** One try, which may queue for a pooled connection: pg-pool's own timeout on the first, what is left after. */
  private connectBefore(deadline: number): Promise<pg.PoolClient> {
    const attempt = super.connect();
    const leftMs = deadline - Date.now();
    if (leftMs >= this.waitMs) return attempt;
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // Should the connection come after all, it goes back to the pool.
        attempt.then((client) => client.release(), () => {});
        reject(new Error('timeout exceeded when trying to connect'));
      }, Math.max(0, leftMs));
    });
    return Promise.race([attempt, timeUp]).finally(() => clearTimeout(timer));
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openPglite(options.dataDir ?? './data', options);
}

const typeParsers = {
  getTypeParser: ((oid: number, format?: string) => parsers[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * The session settings of every PostgreSQL connection (pg's `options`), besides its statement_timeout; the bench's
 * bare SQL and transport floor use them too. No parallel query: every statement of this server reads a page or a
 * batch, and a Gather's workers take longer to start than such a statement takes to run. Measured at a million users:
 * the later-word $autocomplete, planned as a parallel bitmap scan of the word list while its visibility map was still
 * unset (after a bulk load, before autovacuum), ran in 28.8 ms, against 3.9 ms as the same scan without workers
 * (EXPLAIN ANALYZE); one request could also take several cores from the others.
 */
export const SESSION_SETTINGS = '-c TimeZone=UTC -c max_parallel_workers_per_gather=0';

async function openPostgres(connectionString: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const warn = options.warn ?? (() => {});
  const statementTimeoutMs = options.statementTimeoutMs ?? 5_000;
  const settings = `${SESSION_SETTINGS} -c statement_timeout=${statementTimeoutMs}`;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  const pool = new PatientPool({
    connectionString,
    max: options.poolSize ?? 20,
    options: settings,
    // pg-pool has one timeout for waiting in its queue and for connecting: it is the queue's here, and each client
    // gives up connecting on its own after connectTimeoutMs (a database that is down fails requests fast, a burst of
    // them against a full pool waits its turn).
    connectionTimeoutMillis: options.poolWaitMs ?? 5_000,
    Client: class extends pg.Client {
      constructor(config?: pg.ClientConfig) {
        super({ ...config, connectionTimeoutMillis: connectTimeoutMs });
      }
    },
    // TCP keepalive on every connection, so that an idle one whose peer vanished is found and closed by the OS.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types: typeParsers,
  });
  const marginMs = options.queryTimeoutMarginMs ?? 1_000;
  // Idle clients that error are replaced by the pool; a client in use that errors fails its query. Either way the
  // error event must have a listener, or Node ends the process.
  pool.on('error', (error) => warn('an idle database connection failed', error));
  pool.on('connect', (client) => {
    client.on('error', (error) => warn('a database connection failed', error));
    guardQueries(client, statementTimeoutMs, marginMs, warn);
  });
  // Connections checked out, so that closing can cut off work that does not end by itself.
  const inUse = new Set<pg.PoolClient>();
  pool.on('acquire', (client) => inUse.add(client));
  pool.on('release', (_error, client) => inUse.delete(client));
  const db = new NotifyingKysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const subscriptions = new Set<ListenConnection>();
  return {
    db,
    backend: 'postgres',
    async listen(channel, onNotify) {
      const subscription = new ListenConnection(connectionString, settings, channel, onNotify, warn, {
        everyMs: options.listenCheckMs ?? LISTEN_CHECK.everyMs,
        timeoutMs: options.listenCheckTimeoutMs ?? LISTEN_CHECK.timeoutMs,
        connectTimeoutMs,
      });
      await subscription.start();
      subscriptions.add(subscription);
      return async () => {
        subscriptions.delete(subscription);
        await subscription.stop();
      };
    },
    poolState: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    listening: () => [...subscriptions].every((subscription) => subscription.healthy),
    async close({ graceMs = CLOSE_GRACE_MS } = {}) {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
      subscriptions.clear();
      const destroyed = db.destroy();
      if (await within(destroyed, graceMs)) return;
      // Dropping the socket fails the statement in flight; its transaction ends, and the pool lets the client go.
      for (const client of inUse) (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      await within(destroyed, graceMs);
    },
  };
}

const LISTEN_RETRY_MS = { first: 100, max: 5_000 };
const LISTEN_CHECK = { everyMs: 30_000, timeoutMs: 5_000 };

/**
 * A LISTEN on a connection of its own, re-established with backoff whenever the connection is lost, and checked: a
 * connection that a NAT or load balancer dropped silently raises no error and no end, it just never delivers again.
 * So every `checkMs` it sends a NOTIFY to itself, on a channel only it listens to; when that does not come back within
 * `checkTimeoutMs`, the connection is dropped and replaced, with a warning.
 */
class ListenConnection {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = LISTEN_RETRY_MS.first;
  private retry: NodeJS.Timeout | undefined;
  private check: NodeJS.Timeout | undefined;
  /** The check in flight: its token, and what to do when it comes back. */
  private probe: { token: string; answered(): void } | undefined;
  /** A channel of this connection alone, for its checks. */
  private readonly probeChannel = `stream_listen_check_${randomUUID().replaceAll('-', '')}`;

  constructor(
    private readonly connectionString: string,
    private readonly settings: string,
    private readonly channel: string,
    private readonly onNotify: (payload: string) => void,
    private readonly warn: (message: string, error: unknown) => void,
    private readonly checks: { everyMs: number; timeoutMs: number; connectTimeoutMs: number },
  ) {}

  /** Whether notifications arrive now: connected, and not failing a check. */
  get healthy(): boolean {
    return this.client !== undefined;
  }

  /** The first connection must succeed (a start without a database fails); later ones are retried. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      options: this.settings,
      types: typeParsers,
      connectionTimeoutMillis: this.checks.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the LISTEN connection ended')));
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.onNotify(message.payload ?? '');
      else if (message.channel === this.probeChannel && this.probe && message.payload === this.probe.token) this.probe.answered();
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
      await client.query(`LISTEN ${pg.escapeIdentifier(this.probeChannel)}`);
    } catch (error) {
      this.client = undefined;
      socketOf(client)?.destroy();
      client.end().catch(() => {});
      throw error;
    }
    this.retryMs = LISTEN_RETRY_MS.first;
    this.scheduleCheck(client);
  }

  private scheduleCheck(client: pg.Client) {
    clearTimeout(this.check);
    this.check = setTimeout(() => this.runCheck(client), this.checks.everyMs);
    this.check.unref();
  }

  /** Sends a NOTIFY to itself; the connection is replaced unless it comes back in time. */
  private runCheck(client: pg.Client) {
    if (this.stopped || this.client !== client) return;
    const token = randomUUID();
    const timeout = setTimeout(() => {
      this.probe = undefined;
      this.lost(client, new Error(`a NOTIFY to itself did not come back within ${this.checks.timeoutMs} ms`), 'did not pass its check');
    }, this.checks.timeoutMs);
    timeout.unref();
    this.probe = {
      token,
      answered: () => {
        clearTimeout(timeout);
        this.probe = undefined;
        this.scheduleCheck(client);
      },
    };
    // A failure shows as an error or end event, or as the timeout above.
    client.query('SELECT pg_notify($1, $2)', [this.probeChannel, token]).catch(() => {});
  }

  private lost(client: pg.Client, error: unknown, why = 'was lost') {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    this.probe = undefined;
    clearTimeout(this.check);
    // end() would wait for a peer that may never answer: the socket goes at once.
    socketOf(client)?.destroy();
    client.end().catch(() => {});
    this.warn(`the LISTEN connection on ${this.channel} ${why}; replacing it (until then, work is found by polling)`, error);
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().then(
        // Whatever was notified while the connection was down is lost: wake the listener once to look.
        () => this.onNotify(''),
        (error) => {
          this.warn(`re-establishing the LISTEN connection on ${this.channel} failed; retrying`, error);
          this.retryMs = Math.min(this.retryMs * 2, LISTEN_RETRY_MS.max);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    clearTimeout(this.check);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await within(client.query(`UNLISTEN *`), 1_000);
    } catch {
      // the connection is gone already
    }
    socketOf(client)?.destroy();
    await client.end().catch(() => {});
  }
}

/** An error after which the embedded engine's state cannot be trusted: a PANIC, or the WebAssembly runtime aborting. */
export function isFatalEngineError(error: unknown): boolean {
  if (error instanceof WebAssembly.RuntimeError) return true;
  const { severity, message } = (error ?? {}) as { severity?: unknown; message?: unknown };
  if (severity === 'PANIC' || severity === 'FATAL') return true;
  return typeof message === 'string' && (/\bPANIC\b/.test(message) || /\bAborted\(/.test(message));
}

function defaultOnFatal(error: unknown) {
  process.stderr.write(`fatal: the embedded database failed and cannot continue: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(70);
}

/** Routes every query of the engine through a check for fatal failures. */
function guardFatal(pglite: PGlite, onFatal: (error: unknown) => void) {
  const check = (error: unknown): never => {
    if (isFatalEngineError(error)) onFatal(error);
    throw error;
  };
  const query = pglite.query.bind(pglite);
  const exec = pglite.exec.bind(pglite);
  const transaction = pglite.transaction.bind(pglite);
  Object.assign(pglite, {
    query: (...args: Parameters<typeof query>) => query(...args).catch(check),
    exec: (...args: Parameters<typeof exec>) => exec(...args).catch(check),
    transaction: (...args: Parameters<typeof transaction>) => transaction(...args).catch(check),
  });
}

/** Memory settings of the embedded engine (see openPglite). */
const EMBEDDED_SHARED_BUFFERS = '16MB';
const EMBEDDED_MAINTENANCE_WORK_MEM = '16MB';

/**
 * The engine's WebAssembly compiled and its file-system bundle read once per process, for every embedded database it
 * opens (the test double's startServer(), test files): a fifth of each start's time otherwise. Undefined when they
 * cannot be found, and PGlite then loads them itself.
 */
let engineFiles: Promise<{ pgliteWasmModule: WebAssembly.Module; fsBundle: Blob } | undefined> | undefined;
function embeddedEngineFiles() {
  engineFiles ??= (async () => {
    try {
      const resolve = createRequire(import.meta.url).resolve;
      const [wasm, data] = await Promise.all([readFile(resolve('@electric-sql/pglite/pglite.wasm')), readFile(resolve('@electric-sql/pglite/pglite.data'))]);
      return { pgliteWasmModule: await WebAssembly.compile(wasm), fsBundle: BytesBlob.of(data, { shared: false }) };
    } catch {
      return undefined;
    }
  })();
  return engineFiles;
}

async function openPglite(dataDir: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const inMemory = dataDir === 'memory' || dataDir.startsWith('memory://');
  const lock: DataDirLock | undefined = inMemory ? undefined : await lockDataDir(dataDir);
  try {
    const pglite = await PGlite.create({
      ...(await embeddedEngineFiles()),
      dataDir: inMemory ? undefined : `${dataDir}/pgdata`,
      parsers,
      loadDataDir: options.loadDataDir,
      // The engine's memory is WebAssembly memory, which grows and never shrinks: PostgreSQL's default 128 MB of shared
      // buffers would be most of the process's RSS. The files are read through the OS, whose page cache still helps.
      postgresqlconf: [`shared_buffers = ${EMBEDDED_SHARED_BUFFERS}`, `maintenance_work_mem = ${EMBEDDED_MAINTENANCE_WORK_MEM}`],
    });
    guardFatal(pglite, options.onFatal ?? defaultOnFatal);
    await pglite.exec(`SET TimeZone = 'UTC'`);
    const db = new NotifyingKysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    return {
      db,
      backend: 'pglite',
      async listen(channel, onNotify) {
        return pglite.listen(channel, onNotify);
      },
      poolState: () => ({ total: 1, idle: 1, waiting: 0 }),
      listening: () => true,
      dumpDataDir: (compression = 'none') => pglite.dumpDataDir(compression),
      async close({ graceMs = CLOSE_GRACE_MS } = {}) {
        try {
          // A transaction still open (a stuck task handler) holds the engine's only connection: closing would wait
          // for it forever. Past the grace the engine is left as it is; the process is about to exit.
          await within(
            db.destroy().then(async () => {
              if (!pglite.closed) await pglite.close();
            }),
            graceMs,
          );
        } finally {
          lock?.release();
        }
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}

/** Whether the database answers a query now. */
/** Whether the database answers a query within `timeoutMs` (a probe must answer even when the network hangs). */
export async function pingDatabase(db: Db, timeoutMs = 2_500): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      sql`SELECT 1`.execute(db).then(() => true, () => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
