// The user file format of this server: one JSON object per line, each one user, in any of three forms —
//   v2:      a user as queryUsers answers on /api/v2 (custom data nested under `custom`; date-times as integer
//            nanoseconds or RFC3339 strings);
//   v1:      a user as stream-chat and Stream's Python client see it (custom fields at the top level);
//   export:  a line of this server's export file, {"user": <v2 user>, "messages": …, "reactions": …}.
// Empty lines are skipped. What is kept of a user: the fields upsert takes, its date-times (created_at, updated_at,
// last_active, deactivated_at, deleted_at, revoke_tokens_issued_before) and its blocks (`blocked_user_ids`).
//
// This module is pure (no database, no I/O): the import endpoint reads chunks with it, and so may anything else that
// reads or writes user files (snapshots). Each user is held to upsert's validation (users/service.ts toUpsertInput).
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Micros, UserRow } from '../db/schema.js';
import { microsToNanos } from '../db/timestamps.js';
import { StreamError, inputError } from '../http/errors.js';
import { isPlainObject, parseJsonExact, toJsonText } from '../lib/json.js';
import { checkDepth, maxJsonDepth, type InputLimits } from '../limits.js';
import { userV2, userRequestFromV1 } from '../users/representation.js';
import { UserRequest } from '../users/schemas.js';
import { toUpsertInput } from '../users/service.js';
import { isValidUserId } from '../users/validation.js';

/** The date-times a user line may carry, kept as they are. */
export const IMPORTED_TIMES = ['created_at', 'updated_at', 'last_active', 'deactivated_at', 'deleted_at', 'revoke_tokens_issued_before'] as const;
export type ImportedTime = (typeof IMPORTED_TIMES)[number];

/** One user of a file, validated and normalised: what an import writes. Date-times in microseconds; null: not given. */
export interface ImportedUser {
  id: string;
  name: string | null;
  image: string | null;
  /** null: not given (a new user gets `user`). */
  role: string | null;
  teams: string[];
  teams_role: Record<string, string> | null;
  language: string;
  invisible: boolean;
  privacy_settings: Record<string, unknown> | null;
  custom: Record<string, unknown>;
  created_at: Micros | null;
  updated_at: Micros | null;
  last_active: Micros | null;
  deactivated_at: Micros | null;
  deleted_at: Micros | null;
  revoke_tokens_issued_before: Micros | null;
  /** The users it blocks; null when the line does not say (its blocks are then left as they are). */
  blocked_user_ids: string[] | null;
}

export type ParsedLine =
  | { kind: 'empty' }
  | { kind: 'user'; user: ImportedUser }
  /** `json`: whether the line was JSON at all (a request none of whose lines is JSON is refused as a whole). */
  | { kind: 'refused'; id: string | null; message: string; json: boolean };

/** Most users one chunk (one request to the import endpoint) may hold, and its size once decompressed. */
export const MAX_CHUNK_LINES = 10_000;
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** Longest line read: far above a user's 5 KB, so that a refused user is reported, not a runaway line read. */
export const MAX_LINE_BYTES = 1024 * 1024;
const MAX_BLOCKS = 10_000;

const checkRequest = TypeCompiler.Compile(UserRequest);
const LONG_INTEGER = /\d{16}/;

const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)$/;
/** 0001-01-01 and 9999-12-31T23:59:59.999999Z in microseconds: the years RFC3339 can write. */
const MIN_MICROS = -62_135_596_800_000_000n;
const MAX_MICROS = 253_402_300_799_999_999n;

/** A date-time of either family (integer nanoseconds, as a number, BigInt or digit string; or RFC3339) in microseconds. */
export function parseDateTime(value: unknown, field: string): Micros | null {
  if (value === null || value === undefined) return null;
  let micros: bigint | undefined;
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) {
    micros = floorDiv(BigInt(value), 1000n);
  } else if (typeof value === 'string' && /^-?\d{1,25}$/.test(value)) {
    micros = floorDiv(BigInt(value), 1000n);
  } else if (typeof value === 'string') {
    const m = RFC3339.exec(value);
    if (m) {
      const [, y, mo, d, h, mi, s, fraction, zone] = m;
      const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
      const valid = new Date(ms);
      // Date.UTC rolls 2021-02-30 over to March: a date that does not exist is refused instead.
      if (valid.getUTCDate() === Number(d) && valid.getUTCMonth() === Number(mo) - 1 && Number(h) < 24 && Number(mi) < 60 && Number(s) < 61) {
        micros = BigInt(ms) * 1000n + BigInt((fraction ?? '').padEnd(9, '0').slice(0, 6));
        if (zone !== 'Z' && zone !== 'z') {
          const sign = zone!.startsWith('-') ? -1n : 1n;
          const digits = zone!.slice(1).replace(':', '');
          micros -= sign * BigInt(Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60) * 1_000_000n;
        }
      }
    }
  }
  if (micros === undefined || micros < MIN_MICROS || micros > MAX_MICROS) {
    throw inputError(`${field} must be a date-time: RFC3339 text or integer nanoseconds since 1970, between the years 1 and 9999`);
  }
  return micros;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

const REQUEST_FIELDS = ['id', 'name', 'image', 'role', 'teams', 'teams_role', 'language', 'invisible', 'privacy_settings'] as const;

/** The upsert request a v2 user stands for: its request fields (null: not given) and its custom data. */
function requestFromV2(user: Record<string, unknown>): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  for (const field of REQUEST_FIELDS) if (user[field] !== undefined && user[field] !== null) request[field] = user[field];
  request.custom = user.custom;
  return request;
}

/** The first schema error of a user, as a message naming the field. */
function schemaMessage(request: unknown): string {
  const [first] = checkRequest.Errors(request);
  if (!first) return 'the user is invalid';
  const where = first.path === '' ? 'user' : `user${first.path.replace(/\//g, '.')}`;
  return `${where} ${first.message.charAt(0).toLowerCase()}${first.message.slice(1)}`;
}

/**
 * One line, read and validated. Never throws: a line that cannot be imported is `refused` with the message the API
 * would give (upsert's, for what upsert checks).
 */
export function parseUserLine(text: string, limits: InputLimits): ParsedLine {
  if (text.trim() === '') return { kind: 'empty' };
  if (text.length > MAX_LINE_BYTES) return { kind: 'refused', id: null, message: `the line is longer than ${MAX_LINE_BYTES} characters`, json: false };
  let value: unknown;
  let exact = false;
  try {
    // Only integers of 16 digits or more can lose precision in JSON.parse (nanosecond date-times, 64-bit ids): the
    // exact reader, a scan in JavaScript, is kept for the lines that hold one.
    exact = LONG_INTEGER.test(text);
    value = exact ? parseJsonExact(text) : JSON.parse(text);
  } catch {
    return { kind: 'refused', id: null, message: 'the line is not valid JSON', json: false };
  }
  let id: string | null = null;
  try {
    checkDepth(value, maxJsonDepth(limits), 'the line', 'JSON nesting depth');
    if (!isPlainObject(value)) throw inputError('the line must be a JSON object: a user, or an export line {"user": …}');
    // An export line holds the user under `user` (a user never has a `user` field of its own: it is not a custom
    // field name a v1 user could have and an id at the same time).
    const user = value.id === undefined && isPlainObject(value.user) ? value.user : value;
    if (typeof user.id === 'string') id = user.id;
    return { kind: 'user', user: normaliseUser(user, limits, exact) };
  } catch (error) {
    if (error instanceof StreamError) return { kind: 'refused', id, message: error.detail, json: true };
    if (error instanceof RangeError) return { kind: 'refused', id, message: 'the line is too deeply nested', json: true };
    throw error;
  }
}

/**
 * A user object of either family as what an import writes; throws the StreamError it is refused with. `mayHoldBigInts`:
 * the object was read exactly (parseJsonExact), so that some of its integers may be BigInts.
 */
export function normaliseUser(user: Record<string, unknown>, limits: InputLimits, mayHoldBigInts = true): ImportedUser {
  if (!isValidUserId(user.id)) {
    throw inputError(`user id ${JSON.stringify(user.id ?? null)} is invalid: it must be 1 to 255 characters of letters, digits, "@", "_" or "-"`);
  }
  // v2 nests custom data under `custom` (never a custom field's name: it is reserved), v1 flattens it.
  const request = user.custom !== undefined ? requestFromV2(user) : (userRequestFromV1(user) as unknown as Record<string, unknown>);
  if (!checkRequest.Check(request)) throw inputError(schemaMessage(request));
  // Upsert's own checks: id, custom nesting, the 5 KB size. They read JSON as JSON.parse makes it; the custom data
  // kept is the line's own, whose integers past 2^53 stay exact (jsonb holds them so).
  const checked = toUpsertInput((mayHoldBigInts ? withoutBigInts(request) : request) as UserRequest, limits).input;
  const input = { ...checked, custom: (request.custom ?? {}) as Record<string, unknown> };
  const times = {} as Record<ImportedTime, Micros | null>;
  for (const field of IMPORTED_TIMES) times[field] = parseDateTime(user[field], field);
  let blocks: string[] | null = null;
  if (user.blocked_user_ids !== undefined && user.blocked_user_ids !== null) {
    const list = user.blocked_user_ids;
    if (!Array.isArray(list) || list.length > MAX_BLOCKS || !list.every(isValidUserId)) {
      throw inputError(`blocked_user_ids must be a list of at most ${MAX_BLOCKS} user ids`);
    }
    blocks = [...new Set(list.filter((blocked) => blocked !== input.id))];
  }
  return {
    id: input.id,
    name: input.name,
    image: input.image,
    role: input.role,
    teams: input.teams ?? [],
    teams_role: input.teams_role,
    language: input.language ?? '',
    invisible: input.invisible ?? false,
    privacy_settings: input.privacy_settings,
    custom: input.custom,
    ...times,
    blocked_user_ids: blocks,
  };
}

/** A copy of a parsed JSON value with its BigInts as the numbers JSON.parse would have made of them. */
function withoutBigInts(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(withoutBigInts);
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = withoutBigInts(item);
    return copy;
  }
  return value;
}

/**
 * Splits a chunk into its lines (LF or CRLF). A final newline ends the last line rather than starting an empty one,
 * so a file's line numbers are its editor's.
 */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/** A stored user as a line of the format (the v2 form, date-times as exact nanoseconds), without its newline. */
export function userLine(row: UserRow): string {
  const user = userV2(row) as unknown as Record<string, unknown>;
  // Presence is not data: online depends on connections, and is left out of files.
  delete user.online;
  return toJsonText(user);
}

/** Re-exported for writers of user files: a microsecond date-time as v2 nanoseconds. */
export { microsToNanos };
