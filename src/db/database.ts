// Opens the database: PostgreSQL through a pg Pool when a URL is given, else the embedded PGlite in a data folder.
// Both are configured to parse values the same way: int8 → number, timestamptz → bigint microseconds.
//
// Neither may take the process down or leave it serving from a broken state:
//   PostgreSQL: every pooled client, and the dedicated LISTEN connection, has an error handler (a server restart
//   makes them emit errors that would otherwise be uncaught); the LISTEN connection is re-established until it holds;
//   each connection has a statement_timeout, so that no statement holds a connection for long.
//   PGlite runs inside this process and cannot interrupt a statement. If it reports a PANIC or aborts, its state is
//   gone: `onFatal` is called (the server exits at once, for its supervisor to restart it).
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { lockDataDir, type DataDirLock } from './lock.js';
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
   * Closes the database. Work still running (a task handler that outlived the shutdown's grace) is waited for up to
   * `graceMs`, then cut off: on PostgreSQL its connections are dropped, on PGlite the engine is left to the process's
   * exit. Closing never hangs.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /** The embedded engine's files as a tarball, which `loadDataDir` starts from (PGlite only; a migrated template). */
  dumpDataDir?(): Promise<Blob>;
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
  /** Folder for the embedded database; 'memory://' keeps it in memory (tests). */
  dataDir?: string;
  /** Pre-built embedded database contents (a dumpDataDir tarball) to start from, for fast test set-up. */
  loadDataDir?: Blob | File;
  poolSize?: number;
  /** PostgreSQL statement_timeout of every pooled connection; 0 turns it off. Default 5 s. */
  statementTimeoutMs?: number;
  /** How long a request waits for a pooled connection (or a new one) before failing. Default 2 s. */
  connectTimeoutMs?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openPglite(options.dataDir ?? './data', options);
}

const typeParsers = {
  getTypeParser: ((oid: number, format?: string) => parsers[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

async function openPostgres(connectionString: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const warn = options.warn ?? (() => {});
  const settings = `-c TimeZone=UTC -c statement_timeout=${options.statementTimeoutMs ?? 5_000}`;
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 20,
    options: settings,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000,
    types: typeParsers,
  });
  // Idle clients that error are replaced by the pool; a client in use that errors fails its query. Either way the
  // error event must have a listener, or Node ends the process.
  pool.on('error', (error) => warn('an idle database connection failed', error));
  pool.on('connect', (client) => client.on('error', (error) => warn('a database connection failed', error)));
  // Connections checked out, so that closing can cut off work that does not end by itself.
  const inUse = new Set<pg.PoolClient>();
  pool.on('acquire', (client) => inUse.add(client));
  pool.on('release', (_error, client) => inUse.delete(client));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const subscriptions = new Set<{ stop(): Promise<void> }>();
  return {
    db,
    backend: 'postgres',
    async listen(channel, onNotify) {
      const subscription = new ListenConnection(connectionString, settings, channel, onNotify, warn);
      await subscription.start();
      subscriptions.add(subscription);
      return async () => {
        subscriptions.delete(subscription);
        await subscription.stop();
      };
    },
    poolState: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
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

/** A LISTEN on a connection of its own, re-established with backoff whenever the connection is lost. */
class ListenConnection {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = LISTEN_RETRY_MS.first;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly settings: string,
    private readonly channel: string,
    private readonly onNotify: (payload: string) => void,
    private readonly warn: (message: string, error: unknown) => void,
  ) {}

  /** The first connection must succeed (a start without a database fails); later ones are retried. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, options: this.settings, types: typeParsers });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the LISTEN connection ended')));
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.onNotify(message.payload ?? '');
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (error) {
      this.client = undefined;
      client.end().catch(() => {});
      throw error;
    }
    this.retryMs = LISTEN_RETRY_MS.first;
  }

  private lost(client: pg.Client, error: unknown) {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    this.warn(`lost the LISTEN connection on ${this.channel}; re-establishing it`, error);
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
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await client.query(`UNLISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch {
      // the connection is gone already
    }
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

async function openPglite(dataDir: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const inMemory = dataDir.startsWith('memory://');
  const lock: DataDirLock | undefined = inMemory ? undefined : await lockDataDir(dataDir);
  try {
    const pglite = await PGlite.create({
      dataDir: inMemory ? undefined : `${dataDir}/pgdata`,
      parsers,
      loadDataDir: options.loadDataDir,
      // The engine's memory is WebAssembly memory, which grows and never shrinks: PostgreSQL's default 128 MB of shared
      // buffers would be most of the process's RSS. The files are read through the OS, whose page cache still helps.
      postgresqlconf: [`shared_buffers = ${EMBEDDED_SHARED_BUFFERS}`, `maintenance_work_mem = ${EMBEDDED_MAINTENANCE_WORK_MEM}`],
    });
    guardFatal(pglite, options.onFatal ?? defaultOnFatal);
    await pglite.exec(`SET TimeZone = 'UTC'`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    return {
      db,
      backend: 'pglite',
      async listen(channel, onNotify) {
        return pglite.listen(channel, onNotify);
      },
      poolState: () => ({ total: 1, idle: 1, waiting: 0 }),
      dumpDataDir: () => pglite.dumpDataDir('none'),
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
