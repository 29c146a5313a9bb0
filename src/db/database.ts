// Opens the database: PostgreSQL through a pg Pool when a URL is given, else the embedded PGlite in a data folder.
// Both are configured to parse values the same way: int8 → number, timestamptz → bigint microseconds.
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
  /** Subscribes to a NOTIFY channel; returns an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** Folder for the embedded database; 'memory://' keeps it in memory (tests). */
  dataDir?: string;
  /** Pre-built embedded database contents (a dumpDataDir tarball) to start from, for fast test set-up. */
  loadDataDir?: Blob | File;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 20);
  return openPglite(options.dataDir ?? './data', options.loadDataDir);
}

async function openPostgres(connectionString: string, max: number): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString,
    max,
    options: '-c TimeZone=UTC',
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        parsers[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that errors (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const listeners = new Set<pg.PoolClient>();
  return {
    db,
    backend: 'postgres',
    async listen(channel, onNotify) {
      const client = await pool.connect();
      listeners.add(client);
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        if (!listeners.delete(client)) return;
        try {
          await client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`);
        } finally {
          client.release();
        }
      };
    },
    async close() {
      for (const client of listeners) client.release();
      listeners.clear();
      await db.destroy();
    },
  };
}

async function openPglite(dataDir: string, loadDataDir?: Blob | File): Promise<DatabaseHandle> {
  const inMemory = dataDir.startsWith('memory://');
  const lock: DataDirLock | undefined = inMemory ? undefined : await lockDataDir(dataDir);
  try {
    const pglite = await PGlite.create({ dataDir: inMemory ? undefined : `${dataDir}/pgdata`, parsers, loadDataDir });
    await pglite.exec(`SET TimeZone = 'UTC'`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    return {
      db,
      backend: 'pglite',
      async listen(channel, onNotify) {
        return pglite.listen(channel, onNotify);
      },
      async close() {
        try {
          await db.destroy();
          if (!pglite.closed) await pglite.close();
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
export async function pingDatabase(db: Db): Promise<boolean> {
  try {
    await sql`SELECT 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
