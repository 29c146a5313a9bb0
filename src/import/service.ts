// Imports one chunk of a user file (format.ts) in one transaction: the valid users are staged by one statement,
// compared with what is stored, held to upsert's rules (deleted users are not updated, unique usernames), and merged
// by one statement; then their blocks. A refused user is reported with its line and the rest of the chunk goes on; a
// chunk that is not JSON lines at all, or over the limits, is refused whole and writes nothing. The same chunk sent
// twice gives the same result (the second time: all unchanged), so a client may retry any chunk.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { ServiceContext } from '../context.js';
import { microsToRfc3339 } from '../db/timestamps.js';
import { ErrorCode, StreamError, inputError } from '../http/errors.js';
import { toJsonText } from '../lib/json.js';
import { userUpdated } from '../webhooks/events.js';
import { IMPORTED_TIMES, MAX_CHUNK_BYTES, MAX_CHUNK_LINES, parseUserLine, splitLines, type ImportedUser } from './format.js';
import {
  classifyStaged,
  countStaged,
  findStagedNameConflicts,
  listRefusedStaged,
  listStagedIds,
  lockStagedUsers,
  lockUsersTableForNames,
  mergeStaged,
  refuseStaged,
  selectImportedRows,
  stageUsers,
  syncStagedBlocks,
  type ConflictPolicy,
} from './store.js';

export type { ConflictPolicy } from './store.js';

export interface ImportOptions {
  /** What happens to a user that exists already: keep it (skip), replace it (overwrite), or the newer updated_at wins. */
  onConflict: ConflictPolicy;
  /** Send user.updated for each user written (only to hooks that take it). */
  webhooks: boolean;
}

export interface ImportFailure {
  /** 1-based, within the chunk. */
  line: number;
  id: string | null;
  message: string;
}

export interface ImportResult {
  imported: number;
  unchanged: number;
  failed: ImportFailure[];
}

const gunzipAsync = promisify(gunzip);
const GZIP_MAGIC = [0x1f, 0x8b];

/** A chunk's text: gunzipped when it is gzip (by Content-Encoding or by its first bytes), within MAX_CHUNK_BYTES. */
export async function decodeChunk(body: Buffer, contentEncoding: string | undefined): Promise<string> {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') {
    throw new StreamError(ErrorCode.Input, `Content-Encoding ${JSON.stringify(encoding)} is not supported: send gzip or nothing`, { statusCode: 415 });
  }
  let bytes = body;
  if (encoding === 'gzip' || (body[0] === GZIP_MAGIC[0] && body[1] === GZIP_MAGIC[1])) {
    try {
      bytes = await gunzipAsync(body, { maxOutputLength: MAX_CHUNK_BYTES });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
      throw inputError('the body is not valid gzip');
    }
  }
  if (bytes.length > MAX_CHUNK_BYTES) throw tooLarge();
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw inputError('the body is not UTF-8 text');
  }
}

const tooLarge = () => new StreamError(ErrorCode.PayloadTooBig, `the chunk is larger than ${MAX_CHUNK_BYTES} bytes once decompressed: send fewer lines per request`);

/** NUL and lone surrogates, as JSON.stringify escapes them (not after an escaped backslash): PostgreSQL stores neither. */
const UNSTORABLE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
/** Longest name or role: their btree index entries must stay within PostgreSQL's limit. */
const MAX_INDEXED_BYTES = 2048;

/** Refusals of what PostgreSQL could not store, which would otherwise fail the whole chunk. */
function unstorable(user: ImportedUser): string | undefined {
  const json = jsonText([user.name, user.image, user.role, user.teams, user.teams_role, user.language, user.privacy_settings, user.custom, user.blocked_user_ids]);
  if (UNSTORABLE.test(json)) return `user "${user.id}" holds a NUL character or a lone surrogate, which can not be stored`;
  for (const field of ['name', 'role'] as const) {
    const value = user[field];
    if (value !== null && value.length > MAX_INDEXED_BYTES / 3 && Buffer.byteLength(value) > MAX_INDEXED_BYTES) {
      return `the ${field} of user "${user.id}" is too long to be stored: at most ${MAX_INDEXED_BYTES} bytes`;
    }
  }
  return undefined;
}

/** JSON text of a parsed value: JSON.stringify, unless the value holds BigInts (integers read exactly). */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (error instanceof TypeError) return toJsonText(value);
    throw error;
  }
}

/** The staged row of a user: date-times as RFC3339 text, which timestamptz reads exactly. */
function stagedRow(line: number, user: ImportedUser): Record<string, unknown> {
  const row: Record<string, unknown> = { ...user, line };
  for (const field of IMPORTED_TIMES) {
    const value = user[field];
    row[field] = value === null ? null : microsToRfc3339(value);
  }
  return row;
}

export async function importChunk(ctx: ServiceContext, text: string, options: ImportOptions): Promise<ImportResult> {
  const lines = splitLines(text);
  if (lines.length > MAX_CHUNK_LINES) {
    throw new StreamError(ErrorCode.PayloadTooBig, `too many lines in one chunk: ${lines.length}, the maximum is ${MAX_CHUNK_LINES}`);
  }
  const failed: ImportFailure[] = [];
  // The last line of an id wins (as in an upsert's map of users); an earlier one is superseded, and counted unchanged.
  const users = new Map<string, { line: number; user: ImportedUser }>();
  let superseded = 0;
  let nonEmpty = 0;
  let json = 0;
  lines.forEach((text, index) => {
    const parsed = parseUserLine(text, ctx.limits);
    if (parsed.kind === 'empty') return;
    nonEmpty++;
    if (parsed.kind === 'refused') {
      if (parsed.json) json++;
      failed.push({ line: index + 1, id: parsed.id, message: parsed.message });
      return;
    }
    json++;
    const refusal = unstorable(parsed.user);
    if (refusal) {
      failed.push({ line: index + 1, id: parsed.user.id, message: refusal });
      return;
    }
    if (users.has(parsed.user.id)) superseded++;
    users.set(parsed.user.id, { line: index + 1, user: parsed.user });
  });
  if (nonEmpty === 0) throw inputError('the body holds no user: send one JSON object per line');
  if (json === 0) throw inputError('the body is not JSON lines: send one JSON object (a user) per line');
  if (users.size === 0) return { imported: 0, unchanged: superseded, failed };

  const stagedJson = jsonText([...users.values()].map(({ line, user }) => stagedRow(line, user)));
  const settings = await ctx.settings.get();
  const mode = settings.enforce_unique_usernames;
  const written = await ctx.db.transaction().execute(async (trx) => {
    // Unique usernames across a whole chunk: other writers of users wait for it, and it for them (see the store).
    if (mode !== 'no') await lockUsersTableForNames(trx);
    await stageUsers(trx, stagedJson);
    await lockStagedUsers(trx);
    await classifyStaged(trx, options.onConflict);
    const refusals: ImportFailure[] = [];
    if (mode !== 'no') {
      // A refused user keeps its stored name, which may clash with another line's: until no clash is left.
      for (;;) {
        const conflicts = await findStagedNameConflicts(trx, mode === 'team');
        if (conflicts.length === 0) break;
        for (const conflict of conflicts) {
          refusals.push({
            line: conflict.line,
            id: conflict.id,
            message: conflict.team !== null ? `username '${conflict.name}' already exists in team '${conflict.team}'` : `username '${conflict.name}' already exists`,
          });
        }
        await refuseStaged(trx, conflicts.map((conflict) => conflict.id), 'name');
      }
    }
    for (const { line, id } of await listRefusedStaged(trx)) {
      refusals.push({ line, id, message: `user "${id}" was deleted, it can't be updated` });
    }
    await mergeStaged(trx);
    const blocksChanged = await syncStagedBlocks(trx);
    const counts = await countStaged(trx);
    const sameWithNewBlocks = (await listStagedIds(trx, ['same'])).filter((id) => blocksChanged.has(id));
    if (options.webhooks && (await ctx.events.wanted(trx, 'user.updated'))) {
      await ctx.events.record(trx, (await selectImportedRows(trx, sameWithNewBlocks)).map(userUpdated));
    }
    return { counts, refusals, sameWithNewBlocks: sameWithNewBlocks.length };
  });
  const { counts } = written;
  failed.push(...written.refusals);
  failed.sort((a, b) => a.line - b.line);
  return {
    imported: counts.insert + counts.update + written.sameWithNewBlocks,
    unchanged: counts.same + counts.kept - written.sameWithNewBlocks + superseded,
    failed,
  };
}
