// A partial update's `set`/`unset` (flat keys and dotted paths) compiled into the SET items of one UPDATE, each
// computed from the row's current value, so that concurrent updates of different fields never lose each other.
import { sql, type RawBuilder } from 'kysely';
import { requestTimeToSql } from '../../db/timestamps.js';
import { inputError, notAllowed } from '../../http/errors.js';
import { isPlainObject } from '../../lib/json.js';
import { jsonDepth, MAX_TEAM_NAME_LENGTH, MAX_TEAMS_PER_USER, type InputLimits } from '../../limits.js';
import type { UpdateUserPartialRequest } from '../schemas.js';
import { PRIVACY_KEYS, RESERVED_FIELDS } from '../validation.js';

type Column =
  | 'name' | 'image' | 'role' | 'teams' | 'teams_role' | 'language' | 'invisible' | 'privacy_settings'
  | 'revoke_tokens_issued_before' | 'custom';

/** Built-in fields a partial update may set, and the value they take when unset. */
const UNSET_VALUE: Record<Exclude<Column, 'custom'>, RawBuilder<unknown>> = {
  name: sql`NULL`,
  image: sql`NULL`,
  role: sql`'user'`,
  teams: sql`'{}'::text[]`,
  teams_role: sql`NULL`,
  language: sql`''`,
  invisible: sql`false`,
  privacy_settings: sql`NULL`,
  revoke_tokens_issued_before: sql`NULL`,
};
const JSON_COLUMNS = new Set<Column>(['teams_role', 'privacy_settings', 'custom']);

interface Target {
  column: Column;
  /** Path inside a jsonb column; empty for the whole column. */
  path: string[];
}

function checkKey(key: string, limits: InputLimits): string[] {
  if (key === '' || key.includes('..') || /\s/.test(key) || key.startsWith('.') || key.endsWith('.')) {
    throw inputError(`field name "${shorten(key)}" is invalid: it must not be empty, contain whitespace or "..", or start or end with "."`);
  }
  const parts = key.split('.');
  if (parts.length > limits.keySegments) {
    throw inputError(`field name "${shorten(key)}" has ${parts.length} segments: the key segments limit is ${limits.keySegments}`);
  }
  return parts;
}

/** A key as an error message quotes it: whole when short. */
function shorten(key: string): string {
  return key.length <= 80 ? key : `${key.slice(0, 77)}...`;
}

/** Where a flat or dotted key lands: a built-in column, a path in a jsonb column, or a custom field. */
function targetOf(key: string, userOnly: boolean, limits: InputLimits): Target {
  const parts = checkKey(key, limits);
  const head = parts[0]!;
  if (head === 'custom') return { column: 'custom', path: parts.slice(1) };
  // Own keys only: "constructor", "__proto__" and the like are custom fields, not columns.
  if (Object.hasOwn(UNSET_VALUE, head)) {
    const column = head as Column;
    if (parts.length > 1 && !JSON_COLUMNS.has(column)) throw inputError(`field "${head}" has no nested field "${shorten(parts.slice(1).join('.'))}"`);
    if (column === 'privacy_settings' && parts.length > 1) checkPrivacyKey(parts[1]!);
    // A user may not change its own permissions, nor lift a revocation of its own tokens.
    if (userOnly && (column === 'role' || column === 'teams' || column === 'teams_role' || column === 'revoke_tokens_issued_before')) {
      throw notAllowed(`user ${column} can only be updated server-side`);
    }
    return { column, path: parts.slice(1) };
  }
  if (RESERVED_FIELDS.has(head)) throw inputError(`field "${head}" is reserved and can't be updated`);
  return { column: 'custom', path: parts };
}

function checkPrivacyKey(key: string) {
  if (!PRIVACY_KEYS.has(key)) {
    throw inputError(`privacy_settings has no field "${shorten(key)}": it has ${[...PRIVACY_KEYS].join(', ')}`);
  }
}

/** A privacy setting's value, checked before the merge runs in SQL: {"enabled": true or false}. */
function checkPrivacySetting(key: string, value: unknown) {
  checkPrivacyKey(key);
  if (!isPlainObject(value) || typeof value.enabled !== 'boolean') {
    throw inputError(`privacy_settings.${key} must be an object {"enabled": true or false}`);
  }
}

/** What a path inside a JSON column may be set to, checked before SQL runs (the column's shape, the depth limit). */
function checkNestedValue(column: Column, key: string, path: string[], value: unknown, limits: InputLimits) {
  if (column === 'teams_role' && (path.length > 1 || typeof value !== 'string')) throw inputError(`field "${shorten(key)}" must be a role string`);
  if (column === 'privacy_settings') {
    if (path.length === 1) checkPrivacySetting(path[0]!, value);
    else if (path.length > 2 || path[1] !== 'enabled' || typeof value !== 'boolean') {
      throw inputError(`field "${shorten(key)}" is invalid: privacy settings are {"enabled": true or false}`);
    }
  }
  checkValueDepth(key, path.length, value, limits);
}

/** A value set at `pathLength` levels inside a JSON column, held to the custom data nesting depth limit. */
function checkValueDepth(key: string, pathLength: number, value: unknown, limits: InputLimits) {
  const depth = pathLength + jsonDepth(value);
  if (depth > limits.customDepth) {
    throw inputError(`field "${shorten(key)}" would be nested ${depth} levels deep: the custom data nesting depth limit is ${limits.customDepth}`);
  }
}

function jsonParam(value: unknown): RawBuilder<unknown> {
  return sql`${JSON.stringify(value)}::jsonb`;
}

function textArray(values: readonly string[]): RawBuilder<unknown> {
  return sql`ARRAY[${sql.join(values.map((v) => sql`${v}`))}]::text[]`;
}


/** The SQL value of a whole built-in column, validated. */
function columnValue(column: Exclude<Column, 'custom'>, key: string, value: unknown): RawBuilder<unknown> {
  const wrong = (expected: string) => inputError(`field "${key}" must be ${expected}`);
  switch (column) {
    case 'name':
    case 'image':
      if (value === null) return sql`NULL`;
      if (typeof value !== 'string') throw wrong('a string');
      return sql`${value}`;
    case 'role':
      if (typeof value !== 'string' || value === '') throw wrong('a non-empty string');
      return sql`${value}`;
    case 'language':
      if (value === null) return sql`''`;
      if (typeof value !== 'string') throw wrong('a string');
      return sql`${value}`;
    case 'invisible':
      if (typeof value !== 'boolean') throw wrong('a boolean');
      return sql`${value}`;
    case 'teams':
      if (value === null) return UNSET_VALUE.teams;
      if (
        !Array.isArray(value) ||
        value.some((t) => typeof t !== 'string' || t === '' || Buffer.byteLength(t) > MAX_TEAM_NAME_LENGTH) ||
        value.length > MAX_TEAMS_PER_USER
      ) {
        throw wrong(`a list of at most ${MAX_TEAMS_PER_USER} team names of 1 to ${MAX_TEAM_NAME_LENGTH} bytes`);
      }
      return value.length === 0 ? UNSET_VALUE.teams : textArray(value as string[]);
    case 'teams_role':
      if (value === null) return sql`NULL`;
      if (!isPlainObject(value) || Object.values(value).some((r) => typeof r !== 'string')) throw wrong('an object of team → role strings');
      return jsonParam(value);
    case 'privacy_settings':
      if (value === null) return sql`NULL`;
      if (!isPlainObject(value)) throw wrong('an object');
      for (const [setting, state] of Object.entries(value)) checkPrivacySetting(setting, state);
      return jsonParam(value);
    case 'revoke_tokens_issued_before': {
      if (value === null) return sql`NULL`;
      const time = requestTimeToSql(value);
      if (time === undefined) throw wrong('an RFC3339 date-time or null');
      return sql`${time}::timestamptz`;
    }
  }
}

/**
 * Builds the SET items of one user's update; each column's expression starts from its current value. Every key and
 * value is checked here, before any SQL runs: the limits on keys, segments and nesting, and the shape of the JSON
 * columns whose merges and paths run in SQL.
 */
export function compileChanges(
  change: Pick<UpdateUserPartialRequest, 'set' | 'unset'>,
  options: { userOnly: boolean; limits: InputLimits },
): RawBuilder<unknown>[] {
  const { userOnly, limits } = options;
  const set = change.set ?? {};
  const unset = change.unset ?? [];
  const setEntries = Object.entries(set);
  if (setEntries.length > limits.setKeys) throw inputError(`set has ${setEntries.length} keys: the set keys limit is ${limits.setKeys}`);
  if (unset.length > limits.setKeys) throw inputError(`unset has ${unset.length} keys: the unset keys limit is ${limits.setKeys}`);
  const expressions = new Map<Column, RawBuilder<unknown>>();
  const current = (column: Column) => expressions.get(column) ?? sql.ref(column);

  const setKeys = new Set(Object.keys(set));
  for (const key of unset) {
    if (setKeys.has(key)) throw inputError(`field "${shorten(key)}" can't be both set and unset`);
  }

  for (const [key, value] of setEntries) {
    const { column, path } = targetOf(key, userOnly, limits);
    if (value === undefined) continue;
    if (column === 'custom' && path.length === 0) {
      // `set: {custom: {...}}` sets each of its fields, as if they had been sent at the top level.
      if (!isPlainObject(value)) throw inputError('field "custom" must be an object');
      // Any key: under `custom` a built-in name is custom data (the v1 view lets the built-in field win).
      for (const [field, fieldValue] of Object.entries(value)) {
        checkValueDepth(`custom.${field}`, 1, fieldValue, limits);
        expressions.set('custom', sql`stream_jsonb_set_path(${current('custom')}, ${textArray([field])}, ${jsonParam(fieldValue)})`);
      }
    } else if (column === 'privacy_settings' && path.length === 0) {
      if (!isPlainObject(value)) throw inputError(`field "${key}" must be an object`);
      for (const [setting, state] of Object.entries(value)) checkPrivacySetting(setting, state);
      expressions.set(column, sql`stream_jsonb_deep_merge(coalesce(${current(column)}, '{}'::jsonb), ${jsonParam(value)})`);
    } else if (path.length > 0) {
      checkNestedValue(column, key, path, value, limits);
      expressions.set(column, sql`stream_jsonb_set_path(${current(column)}, ${textArray(path)}, ${jsonParam(value)})`);
    } else {
      expressions.set(column, columnValue(column as Exclude<Column, 'custom'>, key, value));
    }
  }

  for (const key of unset) {
    const { column, path } = targetOf(key, userOnly, limits);
    if (column === 'custom') {
      expressions.set('custom', path.length === 0 ? sql`'{}'::jsonb` : sql`${current('custom')} #- ${textArray(path)}`);
    } else if (path.length > 0) {
      expressions.set(column, sql`${current(column)} #- ${textArray(path)}`);
    } else {
      expressions.set(column, UNSET_VALUE[column]);
    }
  }
  return [...expressions].map(([column, expression]) => sql`${sql.ref(column)} = ${expression}`);
}

/** The SET item that replaces a user's custom data as a whole (the dashboard's edit); the value is checked by the caller. */
export function replaceCustom(custom: Record<string, unknown>): RawBuilder<unknown> {
  return sql`custom = ${JSON.stringify(custom)}::jsonb`;
}
