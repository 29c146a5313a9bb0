// A partial update's `set`/`unset` (flat keys and dotted paths) compiled into the SET items of one UPDATE, each
// computed from the row's current value, so that concurrent updates of different fields never lose each other.
import { sql, type RawBuilder } from 'kysely';
import { requestTimeToSql } from '../../db/timestamps.js';
import { inputError, notAllowed } from '../../http/errors.js';
import { isPlainObject } from '../../lib/json.js';
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

function checkKey(key: string): string[] {
  if (key === '' || key.includes('..') || /\s/.test(key) || key.startsWith('.') || key.endsWith('.')) {
    throw inputError(`field name "${key}" is invalid: it must not be empty, contain whitespace or "..", or start or end with "."`);
  }
  return key.split('.');
}

/** Where a flat or dotted key lands: a built-in column, a path in a jsonb column, or a custom field. */
function targetOf(key: string, userOnly: boolean): Target {
  const parts = checkKey(key);
  const head = parts[0]!;
  if (head === 'custom') return { column: 'custom', path: parts.slice(1) };
  // Own keys only: "constructor", "__proto__" and the like are custom fields, not columns.
  if (Object.hasOwn(UNSET_VALUE, head)) {
    const column = head as Column;
    if (parts.length > 1 && !JSON_COLUMNS.has(column)) throw inputError(`field "${head}" has no nested field "${parts.slice(1).join('.')}"`);
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
    throw inputError(`privacy_settings has no field "${key}": it has ${[...PRIVACY_KEYS].join(', ')}`);
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
      if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t === '' || Buffer.byteLength(t) > 100) || value.length > 250) {
        throw wrong('a list of at most 250 team names of 1 to 100 bytes');
      }
      return value.length === 0 ? UNSET_VALUE.teams : textArray(value as string[]);
    case 'teams_role':
      if (value === null) return sql`NULL`;
      if (!isPlainObject(value) || Object.values(value).some((r) => typeof r !== 'string')) throw wrong('an object of team → role strings');
      return jsonParam(value);
    case 'privacy_settings':
      if (value === null) return sql`NULL`;
      if (!isPlainObject(value)) throw wrong('an object');
      return jsonParam(value);
    case 'revoke_tokens_issued_before': {
      if (value === null) return sql`NULL`;
      const time = requestTimeToSql(value);
      if (time === undefined) throw wrong('an RFC3339 date-time or null');
      return sql`${time}::timestamptz`;
    }
  }
}

/** Builds the SET expressions of one user's update; each column's expression starts from its current value. */
export function compileChanges(change: Pick<UpdateUserPartialRequest, 'set' | 'unset'>, userOnly = false): RawBuilder<unknown>[] {
  const set = change.set ?? {};
  const unset = change.unset ?? [];
  const expressions = new Map<Column, RawBuilder<unknown>>();
  const current = (column: Column) => expressions.get(column) ?? sql.ref(column);

  const setKeys = new Set(Object.keys(set));
  for (const key of unset) {
    if (setKeys.has(key)) throw inputError(`field "${key}" can't be both set and unset`);
  }

  for (const [key, value] of Object.entries(set)) {
    const { column, path } = targetOf(key, userOnly);
    if (value === undefined) continue;
    if (column === 'custom' && path.length === 0) {
      // `set: {custom: {...}}` sets each of its fields, as if they had been sent at the top level.
      if (!isPlainObject(value)) throw inputError('field "custom" must be an object');
      for (const [field, fieldValue] of Object.entries(value)) {
        if (RESERVED_FIELDS.has(field)) throw inputError(`custom field "${field}" is a reserved field name`);
        expressions.set('custom', sql`stream_jsonb_set_path(${current('custom')}, ${textArray([field])}, ${jsonParam(fieldValue)})`);
      }
    } else if (column === 'privacy_settings' && path.length === 0) {
      if (!isPlainObject(value)) throw inputError(`field "${key}" must be an object`);
      for (const field of Object.keys(value)) checkPrivacyKey(field);
      expressions.set(column, sql`stream_jsonb_deep_merge(coalesce(${current(column)}, '{}'::jsonb), ${jsonParam(value)})`);
    } else if (path.length > 0) {
      if (column === 'teams_role' && path.length === 1 && typeof value !== 'string') throw inputError(`field "${key}" must be a string`);
      expressions.set(column, sql`stream_jsonb_set_path(${current(column)}, ${textArray(path)}, ${jsonParam(value)})`);
    } else {
      expressions.set(column, columnValue(column as Exclude<Column, 'custom'>, key, value));
    }
  }

  for (const key of unset) {
    const { column, path } = targetOf(key, userOnly);
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
