// The data as a whole, for a server used as a test double: clearing it between tests (the tables, store.ts, and what
// this process holds besides them: open WebSockets, rate-limit counts, cached settings and statistics); and snapshots
// of the users in the project's one user file format (import/format.ts), written by GET /operator/users.jsonl and on
// exit (EXPORT_ON_EXIT), loaded at start (IMPORT_FILE) the way the import endpoint loads a chunk. A snapshot taken and
// loaded again gives back the same users, field by field, and sends no webhook.
import { once } from 'node:events';
import fs from 'node:fs';
import type { ServiceContext } from '../context.js';
import { inTransaction } from '../db/locks.js';
import { MAX_CHUNK_BYTES, MAX_CHUNK_LINES, userLine } from '../import/format.js';
import { importChunk } from '../import/service.js';
import { fileChunks } from '../import/sources.js';
import { listUsersAfter } from '../users/store/users.js';
import { forgetNameWordStats } from '../users/store/word-stats.js';
import { dataTables, resetSettings, truncateTables } from './store.js';

export interface ClearResult {
  /** The tables emptied. */
  tables: string[];
  settings_reset: boolean;
}

/**
 * Empties every data table in one transaction (users, blocks, usernames, tombstones, tasks, webhook deliveries,
 * exports, activity, presence, rate counts) and, with `settings`, resets the app settings to their defaults. Open
 * WebSockets are closed first, so that no connection writes its user back; tasks in flight lose their rows, so their
 * results are dropped when they try to record them.
 */
export async function clearData(ctx: ServiceContext, options: { settings?: boolean } = {}): Promise<ClearResult> {
  await Promise.all([...ctx.clearing.listeners].map((listener) => listener()));
  const tables = await inTransaction(ctx.db, async (trx) => {
    const names = await dataTables(trx);
    await truncateTables(trx, names);
    if (options.settings) await resetSettings(trx);
    return names;
  });
  ctx.rateLimits.resetLocalCounts();
  ctx.settings.invalidate();
  forgetNameWordStats(ctx.db);
  return { tables, settings_reset: options.settings ?? false };
}

const PAGE = 1_000;

/** Every user, deleted and deactivated ones too, one line each (with its newline), in id order, read page by page. */
export async function* snapshotLines(ctx: ServiceContext): AsyncGenerator<string> {
  let after: string | undefined;
  for (;;) {
    const rows = await listUsersAfter(ctx.db, after, PAGE);
    if (rows.length === 0) return;
    yield rows.map((row) => `${userLine(row)}\n`).join('');
    after = rows[rows.length - 1]!.id;
  }
}

/** Writes a snapshot to `file` (replaced whole: written beside it, then renamed). Returns the users written. */
export async function writeSnapshot(ctx: ServiceContext, file: string): Promise<number> {
  const partial = `${file}.partial`;
  const out = fs.createWriteStream(partial);
  let users = 0;
  try {
    for await (const lines of snapshotLines(ctx)) {
      users += lines.split('\n').length - 1;
      if (!out.write(lines)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    fs.renameSync(partial, file);
    return users;
  } catch (error) {
    out.destroy();
    fs.rmSync(partial, { force: true });
    throw error;
  }
}

export class SnapshotLoadError extends Error {}

/**
 * Loads a user file into the database: its users replace stored ones of the same id, with no webhook. Any line the
 * import refuses stops the load: a snapshot that does not load whole would start a test double on other data.
 */
export async function loadSnapshot(ctx: ServiceContext, file: string): Promise<number> {
  let imported = 0;
  for await (const chunk of fileChunks(file, 0, { lines: MAX_CHUNK_LINES, bytes: MAX_CHUNK_BYTES }, () => {})) {
    const result = await importChunk(ctx, chunk.lines.join('\n'), { onConflict: 'overwrite', webhooks: false });
    if (result.failed.length > 0) {
      const first = result.failed[0]!;
      throw new SnapshotLoadError(`${file}: line ${first.line + (chunk.firstLine ?? 1) - 1} (${first.id ?? 'no id'}): ${first.message}${result.failed.length > 1 ? ` (and ${result.failed.length - 1} more in its chunk)` : ''}`);
    }
    imported += result.imported + result.unchanged;
  }
  return imported;
}
