// backend-independent: the filter compiler, checked on an embedded engine of its own.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
} from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamError } from '../../src/http/errors.js';
import { compileFilter, compileSort } from '../../src/users/store/filter.js';
import { migratedPglite } from '../helpers/database.js';

// Compiles without a database: only the SQL text and the bind parameters matter here.
const db = new Kysely<any>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (kysely) => new PostgresIntrospector(kysely),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

const AUTOCOMPLETE_MESSAGE =
  '$autocomplete field is empty or contains invalid characters. Please provide a valid string to autocomplete';
const HOSTILE = "a'); drop table users; --";

function where(filter: unknown): CompiledQuery {
  return sql`select 1 where ${compileFilter(filter)}`.compile(db);
}

/** The WHERE expression alone, for shape assertions. */
function whereSql(filter: unknown): string {
  return where(filter).sql.replace(/^select 1 where /, '');
}

function orderBy(sort: unknown): string {
  return sql`select 1 order by ${compileSort(sort)}`.compile(db).sql.replace(/^select 1 order by /, '');
}

/** Asserts a Stream input error (code 4) whose message contains `message`. */
function expectInputError(run: () => unknown, message: string | RegExp) {
  expect(run).toThrowError(message);
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).code).toBe(4);
    expect((error as StreamError).statusCode).toBe(400);
  }
}

describe('compileFilter: shapes', () => {
  it('compiles an empty filter (and absent filter) to TRUE', () => {
    expect(whereSql({})).toBe('TRUE');
    expect(whereSql(undefined)).toBe('TRUE');
    expect(whereSql(null)).toBe('TRUE');
  });

  it('treats a bare value as $eq and ANDs several fields', () => {
    const compiled = where({ id: 'a', role: 'admin' });
    expect(compiled.sql).toBe('select 1 where ("id" = $1 AND "role" = $2)');
    expect(compiled.parameters).toEqual(['a', 'admin']);
    expect(where({ id: { $eq: 'a' } }).sql).toBe('select 1 where "id" = $1');
  });

  it('ANDs several operators of one field', () => {
    const compiled = where({ id: { $gt: 'a', $lte: 'm' } });
    expect(compiled.sql).toBe('select 1 where ("id" > $1 AND "id" <= $2)');
    expect(compiled.parameters).toEqual(['a', 'm']);
  });

  it('compiles every operator on id', () => {
    expect(whereSql({ id: { $ne: 'a' } })).toBe('"id" <> $1');
    expect(where({ id: { $in: ['a', 'b'] } })).toMatchObject({ sql: 'select 1 where "id" IN ($1, $2)', parameters: ['a', 'b'] });
    expect(whereSql({ id: { $nin: ['a'] } })).toBe('"id" NOT IN ($1)');
    expect(whereSql({ id: { $gt: 'a' } })).toBe('"id" > $1');
    expect(whereSql({ id: { $gte: 'a' } })).toBe('"id" >= $1');
    expect(whereSql({ id: { $lt: 'a' } })).toBe('"id" < $1');
    expect(whereSql({ id: { $lte: 'a' } })).toBe('"id" <= $1');
    // id is NOT NULL
    expect(whereSql({ id: { $exists: true } })).toBe('TRUE');
    expect(whereSql({ id: { $exists: false } })).toBe('FALSE');
  });

  it('compiles $autocomplete on id as an escaped, case-insensitive LIKE prefix', () => {
    const compiled = where({ id: { $autocomplete: 'Us%er_1\\' } });
    expect(compiled.sql).toBe('select 1 where lower(id) LIKE $1');
    expect(compiled.parameters).toEqual(['us\\%er\\_1\\\\%']);
  });

  it('compiles name operators, with IS NULL for the nullable column', () => {
    expect(whereSql({ name: 'Bob' })).toBe('"name" = $1');
    expect(whereSql({ name: null })).toBe('"name" IS NULL');
    expect(whereSql({ name: { $in: ['a', 'b'] } })).toBe('"name" IN ($1, $2)');
    expect(whereSql({ name: { $exists: true } })).toBe('"name" IS NOT NULL');
    expect(whereSql({ name: { $exists: false } })).toBe('"name" IS NULL');
    expect(whereSql({ name: { $gte: 'a', $lt: 'b' } })).toBe('("name" >= $1 AND "name" < $2)');
  });

  it('compiles $autocomplete on name and username to the indexed tsvector expressions', () => {
    const name = where({ name: { $autocomplete: '  Curiosity-RO! ' } });
    expect(name.sql).toBe(
      "select 1 where to_tsvector('simple', coalesce(name, '')) @@ to_tsquery('simple', $1)",
    );
    expect(name.parameters).toEqual(['curiosity:* & ro:*']);
    const username = where({ username: { $autocomplete: 'Ölaf' } });
    expect(username.sql).toBe(
      "select 1 where to_tsvector('simple', coalesce(custom ->> 'username', '')) @@ to_tsquery('simple', $1)",
    );
    expect(username.parameters).toEqual(['ölaf:*']);
  });

  it('uses the exact index expressions of the migration', () => {
    const migration = fs.readFileSync(path.join(migrationsDir(), '001_users.sql'), 'utf8');
    expect(migration).toContain("to_tsvector('simple', coalesce(name, ''))");
    expect(migration).toContain("to_tsvector('simple', coalesce(custom ->> 'username', ''))");
  });

  it('compiles role and language', () => {
    expect(whereSql({ role: { $in: ['admin', 'user'] } })).toBe('"role" IN ($1, $2)');
    expect(whereSql({ role: { $exists: true } })).toBe('TRUE');
    expect(whereSql({ role: { $gt: 'a' } })).toBe('"role" > $1');
    expect(whereSql({ language: 'fr' })).toBe('"language" = $1');
  });

  it('compiles teams as array containment / overlap', () => {
    expect(where({ teams: 'red' })).toMatchObject({ sql: 'select 1 where teams @> ARRAY[$1]::text[]', parameters: ['red'] });
    expect(whereSql({ teams: { $contains: 'red' } })).toBe('teams @> ARRAY[$1]::text[]');
    expect(whereSql({ teams: { $in: ['red', 'blue'] } })).toBe('teams && ARRAY[$1, $2]::text[]');
    expect(whereSql({ teams: null })).toBe("teams = '{}'");
    expect(whereSql({ teams: { $eq: null } })).toBe("teams = '{}'");
    expect(whereSql({ teams: { $in: ['red', null] } })).toBe("(teams && ARRAY[$1]::text[] OR teams = '{}')");
  });

  it('compiles boolean columns', () => {
    expect(where({ banned: true })).toMatchObject({ sql: 'select 1 where "banned" = $1', parameters: [true] });
    expect(whereSql({ shadow_banned: { $ne: true } })).toBe('"shadow_banned" <> $1');
    expect(whereSql({ bypass_moderation: { $eq: false } })).toBe('"bypass_moderation" = $1');
  });

  it('compiles timestamps as timestamptz parameters', () => {
    const compiled = where({ created_at: { $gt: '2024-01-01T00:00:00.000Z' } });
    expect(compiled.sql).toBe('select 1 where "created_at" > $1::timestamptz');
    expect(compiled.parameters).toEqual(['2024-01-01T00:00:00.000Z']);
    expect(whereSql({ updated_at: '2024-01-01T00:00:00Z' })).toBe('"updated_at" = $1::timestamptz');
    expect(whereSql({ created_at: { $in: ['2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'] } })).toBe(
      '"created_at" IN ($1::timestamptz, $2::timestamptz)',
    );
    expect(whereSql({ created_at: { $gte: '2024-01-01T00:00:00Z', $lt: '2025-01-01T00:00:00Z' } })).toBe(
      '("created_at" >= $1::timestamptz AND "created_at" < $2::timestamptz)',
    );
    expect(whereSql({ last_active: { $lte: '2024-01-01T00:00:00Z' } })).toBe('"last_active" <= $1::timestamptz');
    expect(whereSql({ last_active: { $exists: false } })).toBe('"last_active" IS NULL');
    expect(whereSql({ last_active: null })).toBe('"last_active" IS NULL');
    expect(whereSql({ created_at: { $exists: true } })).toBe('TRUE');
  });

  it('compiles custom-field equality as jsonb containment', () => {
    const compiled = where({ color: 'red' });
    expect(compiled.sql).toBe('select 1 where custom @> $1::jsonb');
    expect(compiled.parameters).toEqual(['{"color":"red"}']);
    expect(where({ 'address.city': 'Paris' }).parameters).toEqual(['{"address":{"city":"Paris"}}']);
    expect(where({ age: { $eq: 30 } }).parameters).toEqual(['{"age":30}']);
    // username and email are custom fields too
    expect(where({ username: 'bob' })).toMatchObject({ sql: 'select 1 where custom @> $1::jsonb', parameters: ['{"username":"bob"}'] });
    expect(where({ email: { $in: ['a@x.io', 'b@x.io'] } })).toMatchObject({
      sql: 'select 1 where (custom @> $1::jsonb OR custom @> $2::jsonb)',
      parameters: ['{"email":"a@x.io"}', '{"email":"b@x.io"}'],
    });
  });

  it('compares arrays and objects exactly, and null as null-or-missing', () => {
    const compiled = where({ tags: ['a', 'b'] });
    expect(compiled.sql).toBe('select 1 where (custom @> $1::jsonb AND (custom -> $2) = $3::jsonb)');
    expect(compiled.parameters).toEqual(['{"tags":["a","b"]}', 'tags', '["a","b"]']);
    // an object without $ keys is a bare value
    expect(where({ address: { city: 'Paris' } }).parameters).toEqual(['{"address":{"city":"Paris"}}', 'address', '{"city":"Paris"}']);
    expect(where({ color: null })).toMatchObject({
      sql: "select 1 where coalesce((custom -> $1), 'null'::jsonb) = 'null'::jsonb",
      parameters: ['color'],
    });
  });

  it('compiles the other custom-field operators', () => {
    expect(whereSql({ color: { $ne: 'red' } })).toBe('NOT (custom @> $1::jsonb)');
    expect(whereSql({ color: { $in: ['red', 'blue'] } })).toBe('(custom @> $1::jsonb OR custom @> $2::jsonb)');
    expect(whereSql({ color: { $in: ['red'] } })).toBe('custom @> $1::jsonb');
    expect(whereSql({ color: { $nin: ['red', 'blue'] } })).toBe('NOT ((custom @> $1::jsonb OR custom @> $2::jsonb))');

    const gt = where({ age: { $gt: 18 } });
    expect(gt.sql).toBe("select 1 where (jsonb_typeof((custom -> $1)) = 'number' AND (custom -> $2) > $3::jsonb)");
    expect(gt.parameters).toEqual(['age', 'age', '18']);
    expect(whereSql({ name_x: { $gte: 'b' } })).toContain("= 'string' AND (custom -> $2) >= $3::jsonb");
    expect(whereSql({ flag: { $lt: true } })).toContain("= 'boolean' AND (custom -> $2) < $3::jsonb");
    expect(whereSql({ age: { $lte: 1 } })).toContain('<= $3::jsonb');

    const nested = where({ 'a.b': { $gt: 1 } });
    expect(nested.sql).toBe(
      "select 1 where (jsonb_typeof((custom #> ARRAY[$1, $2]::text[])) = 'number' AND (custom #> ARRAY[$3, $4]::text[]) > $5::jsonb)",
    );
    expect(nested.parameters).toEqual(['a', 'b', 'a', 'b', '1']);

    expect(where({ color: { $exists: true } })).toMatchObject({ sql: 'select 1 where custom ? $1', parameters: ['color'] });
    expect(whereSql({ color: { $exists: false } })).toBe('NOT (custom ? $1)');
    expect(whereSql({ 'a.b': { $exists: true } })).toBe('(custom #> ARRAY[$1, $2]::text[]) IS NOT NULL');
    expect(whereSql({ 'a.b': { $exists: false } })).toBe('(custom #> ARRAY[$1, $2]::text[]) IS NULL');

    expect(where({ tags: { $contains: 'a' } })).toMatchObject({ sql: 'select 1 where custom @> $1::jsonb', parameters: ['{"tags":["a"]}'] });
    expect(where({ tags: { $contains: ['a', 'b'] } }).parameters).toEqual(['{"tags":["a","b"]}']);
  });

  it('compiles the logical combinators at any level', () => {
    expect(whereSql({ $and: [{ id: 'a' }, { role: 'admin' }] })).toBe('("id" = $1 AND "role" = $2)');
    expect(whereSql({ $and: [{ id: 'a' }] })).toBe('"id" = $1');
    expect(whereSql({ $or: [{ id: 'a' }, { role: 'admin' }] })).toBe('("id" = $1 OR "role" = $2)');
    expect(whereSql({ $or: [{ id: 'a' }] })).toBe('"id" = $1');
    expect(whereSql({ $nor: [{ id: 'a' }, { role: 'admin' }] })).toBe('(("id" = $1 OR "role" = $2)) IS NOT TRUE');
    expect(whereSql({ $nor: [] })).toBe('TRUE');
    expect(whereSql({ $and: [{}] })).toBe('TRUE');
    expect(whereSql({ banned: false, $or: [{ $and: [{ id: 'a' }, { role: 'x' }] }, { $nor: [{ color: 'red' }] }] })).toBe(
      '("banned" = $1 AND (("id" = $2 AND "role" = $3) OR (custom @> $4::jsonb) IS NOT TRUE))',
    );
  });

  it('keeps user values and custom field names out of the SQL text', () => {
    const value = "x' OR 1=1; --";
    const filters: unknown[] = [
      { [HOSTILE]: value },
      { [HOSTILE]: { $ne: value } },
      { [HOSTILE]: { $in: [value, 1] } },
      { [HOSTILE]: { $nin: [value] } },
      { [HOSTILE]: { $gt: value } },
      { [HOSTILE]: { $gte: 1 } },
      { [HOSTILE]: { $lt: value } },
      { [HOSTILE]: { $lte: true } },
      { [HOSTILE]: { $exists: true } },
      { [HOSTILE]: { $exists: false } },
      { [HOSTILE]: { $contains: value } },
      { [HOSTILE]: null },
      { [HOSTILE]: [value] },
      { [`${HOSTILE}.${HOSTILE}`]: { $gt: value, $exists: true } },
      { [`${HOSTILE}.${HOSTILE}`]: { b: value } },
      { id: value, name: { $autocomplete: value }, username: { $autocomplete: value }, email: value },
      { id: { $autocomplete: value } },
      { teams: { $in: [value] }, role: { $gt: value }, language: value },
      { created_at: { $gt: '2024-01-01T00:00:00Z' } },
      { $or: [{ [HOSTILE]: value }, { $nor: [{ [HOSTILE]: { $in: [value] } }] }] },
    ];
    for (const filter of filters) {
      const compiled = where(filter);
      expect(compiled.sql).not.toContain('drop');
      expect(compiled.sql).not.toContain('1=1');
      expect(compiled.sql).not.toContain('2024');
      // Every single-quoted literal in the text is one of this module's constants.
      for (const literal of compiled.sql.match(/'[^']*'/g) ?? []) {
        expect(["'simple'", "''", "'username'", "'null'", "'number'", "'string'", "'boolean'", "'{}'"]).toContain(literal);
      }
      expect(compiled.parameters.length).toBeGreaterThan(0);
    }
    expect(where({ [HOSTILE]: 'v' }).parameters).toEqual([JSON.stringify({ [HOSTILE]: 'v' })]);
    expect(where({ [HOSTILE]: { $exists: true } }).parameters).toEqual([HOSTILE]);
  });
});

describe('compileFilter: rejections', () => {
  it('rejects a filter that is not an object', () => {
    expectInputError(() => compileFilter([]), 'filter_conditions must be an object');
    expectInputError(() => compileFilter('id'), 'filter_conditions must be an object');
    expectInputError(() => compileFilter(1), 'filter_conditions must be an object');
  });

  it('rejects unknown and disallowed operators', () => {
    expectInputError(() => compileFilter({ id: { $foo: 1 } }), 'unknown operator $foo');
    expectInputError(() => compileFilter({ id: { $and: [] } }), 'unknown operator $and');
    expectInputError(() => compileFilter({ teams: { $gt: 'a' } }), 'operator $gt is not allowed for field teams');
    expectInputError(() => compileFilter({ name: { $ne: 'a' } }), 'operator $ne is not allowed for field name');
    expectInputError(() => compileFilter({ role: { $autocomplete: 'a' } }), 'operator $autocomplete is not allowed for field role');
    expectInputError(() => compileFilter({ id: { $contains: 'a' } }), 'operator $contains is not allowed for field id');
    expectInputError(() => compileFilter({ username: { $in: ['a'] } }), 'operator $in is not allowed for field username');
    expectInputError(() => compileFilter({ email: { $gt: 'a' } }), 'operator $gt is not allowed for field email');
    expectInputError(() => compileFilter({ language: { $in: ['fr'] } }), 'operator $in is not allowed for field language');
    expectInputError(() => compileFilter({ banned: { $exists: true } }), 'operator $exists is not allowed for field banned');
    expectInputError(() => compileFilter({ created_at: { $ne: '2024-01-01T00:00:00Z' } }), 'operator $ne is not allowed for field created_at');
    expectInputError(() => compileFilter({ color: { $autocomplete: 'a' } }), 'operator $autocomplete is not allowed for field color');
  });

  it('rejects $q with Stream’s message', () => {
    expectInputError(() => compileFilter({ name: { $q: 'bob' } }), 'search is not enabled for field users.name');
    expectInputError(() => compileFilter({ color: { $q: 'red' } }), 'search is not enabled for field users.color');
  });

  it('rejects $-prefixed fields that are not logical operators', () => {
    expectInputError(() => compileFilter({ $foo: 1 }), 'unknown logical operator $foo');
    expectInputError(() => compileFilter({ $eq: 'a' }), 'unknown logical operator $eq');
    expectInputError(() => compileFilter({ $or: [{ $not: {} }] }), 'unknown logical operator $not');
  });

  it('rejects malformed logical operators', () => {
    expectInputError(() => compileFilter({ $and: {} }), '$and must be an array');
    expectInputError(() => compileFilter({ $and: [] }), '$and needs at least one');
    expectInputError(() => compileFilter({ $or: [] }), '$or needs at least one');
    expectInputError(() => compileFilter({ $or: ['id'] }), '$or must be an array of filter objects');
    expectInputError(() => compileFilter({ $nor: [[]] }), '$nor must be an array of filter objects');
    expectInputError(() => compileFilter({ $nor: null }), '$nor must be an array');
  });

  it('limits nesting depth and the number of conditions', () => {
    let deep: Record<string, unknown> = { id: 'a' };
    for (let i = 0; i < 10; i++) deep = { $and: [deep] };
    expect(() => compileFilter(deep)).not.toThrow();
    expectInputError(() => compileFilter({ $or: [deep] }), 'nested too deeply');

    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, i]));
    expect(() => compileFilter(many)).not.toThrow();
    expectInputError(() => compileFilter({ ...many, extra: 1 }), 'too many conditions');
    const big = Array.from({ length: 100 }, (_, i) => `v${i}`);
    const wide = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}`, { $in: big }]));
    expectInputError(() => compileFilter(wide), 'too many values');
  });

  it('checks value types', () => {
    expectInputError(() => compileFilter({ id: { $in: 'a' } }), '$in on field id needs a non-empty array');
    expectInputError(() => compileFilter({ id: { $in: [] } }), '$in on field id needs a non-empty array');
    expectInputError(() => compileFilter({ color: { $nin: [] } }), '$nin on field color needs a non-empty array');
    expectInputError(
      () => compileFilter({ id: { $in: Array.from({ length: 101 }, (_, i) => `u${i}`) } }),
      'at most 100 values',
    );
    expectInputError(() => compileFilter({ id: 1 }), '$eq on field id needs a string value');
    expectInputError(() => compileFilter({ id: null }), '$eq on field id needs a string value');
    expectInputError(() => compileFilter({ id: { $in: ['a', 2] } }), '$in on field id needs a string value');
    expectInputError(() => compileFilter({ name: { $gt: 3 } }), '$gt on field name needs a string value');
    expectInputError(() => compileFilter({ username: 7 }), '$eq on field username needs a string value');
    expectInputError(() => compileFilter({ email: { $in: [null] } }), '$in on field email needs a string value');
    expectInputError(() => compileFilter({ banned: 'true' }), '$eq on field banned needs a boolean value');
    expectInputError(() => compileFilter({ name: { $exists: 'yes' } }), '$exists on field name needs a boolean value');
    expectInputError(() => compileFilter({ color: { $exists: 1 } }), '$exists on field color needs a boolean value');
    expectInputError(() => compileFilter({ created_at: { $gt: 'yesterday' } }), 'needs an RFC3339 date-time');
    expectInputError(() => compileFilter({ created_at: null }), 'needs an RFC3339 date-time');
    expectInputError(() => compileFilter({ last_active: { $in: ['2024-13-45T00:00:00Z'] } }), 'needs an RFC3339 date-time');
    expectInputError(() => compileFilter({ teams: '' }), 'needs a non-empty team name');
    expectInputError(() => compileFilter({ teams: { $contains: null } }), 'needs a non-empty team name');
    expectInputError(() => compileFilter({ teams: { $in: ['red', ''] } }), 'needs a non-empty team name');
    expectInputError(() => compileFilter({ teams: ['red'] }), 'needs a non-empty team name');
    expectInputError(() => compileFilter({ age: { $gt: { a: 1 } } }), '$gt on field age needs a number, string or boolean');
    expectInputError(() => compileFilter({ age: { $lt: null } }), '$lt on field age needs a number, string or boolean');
    expectInputError(() => compileFilter({ age: { $eq: undefined } }), '$eq on field age needs a JSON value');
    expectInputError(() => compileFilter({ age: Number.NaN }), '$eq on field age needs a JSON value');
    expectInputError(() => compileFilter({ age: { $gte: 10n } }), '$gte on field age needs a JSON value');
    expectInputError(() => compileFilter({ id: { $gt: 'a', b: 1 } }), 'mixes operators and plain keys');
  });

  it('checks field names', () => {
    expectInputError(() => compileFilter({ '': 1 }), 'filter field names must not be empty');
    expectInputError(() => compileFilter({ 'a..b': 1 }), 'invalid field name a..b');
    expectInputError(() => compileFilter({ '.a': 1 }), 'invalid field name .a');
    expectInputError(() => compileFilter({ [Array(11).fill('k').join('.')]: 1 }), 'the key segments limit is 10');
  });

  it('rejects empty $autocomplete values with Stream’s exact message', () => {
    for (const field of ['id', 'name', 'username']) {
      for (const value of ['', '   ', '!!!', '-_@', 5, null]) {
        expectInputError(() => compileFilter({ [field]: { $autocomplete: value } }), AUTOCOMPLETE_MESSAGE);
        try {
          compileFilter({ [field]: { $autocomplete: value } });
        } catch (error) {
          expect((error as StreamError).detail).toBe(AUTOCOMPLETE_MESSAGE);
        }
      }
    }
  });
});

describe('compileSort', () => {
  it('defaults to created_at DESC, id DESC', () => {
    expect(orderBy(undefined)).toBe('created_at DESC, id DESC');
    expect(orderBy([])).toBe('created_at DESC, id DESC');
  });

  it('sorts NOT NULL columns plainly, nullable ones NULLS LAST, and appends id', () => {
    expect(orderBy([{ field: 'created_at', direction: -1 }])).toBe('"created_at" DESC, id DESC');
    expect(orderBy([{ field: 'created_at' }])).toBe('"created_at" ASC, id ASC');
    expect(orderBy([{ field: 'name', direction: 1 }, { field: 'last_active', direction: -1 }])).toBe(
      '"name" ASC NULLS LAST, "last_active" DESC NULLS LAST, id DESC',
    );
    expect(orderBy([{ field: 'role' }, { field: 'language', direction: -1 }, { field: 'banned' }, { field: 'shadow_banned' }, { field: 'updated_at' }])).toBe(
      '"role" ASC, "language" DESC, "banned" ASC, "shadow_banned" ASC, "updated_at" ASC, id ASC',
    );
  });

  it('does not repeat id when it is already sorted on', () => {
    expect(orderBy([{ field: 'id', direction: -1 }])).toBe('"id" DESC');
    expect(orderBy([{ field: 'id' }, { field: 'name', direction: -1 }])).toBe('"id" ASC, "name" DESC NULLS LAST');
  });

  it('sorts custom fields as text, number or boolean, with the name as a parameter', () => {
    const text = sql`select 1 order by ${compileSort([{ field: HOSTILE, direction: -1 }])}`.compile(db);
    expect(text.sql).toBe('select 1 order by (custom ->> $1) DESC NULLS LAST, id DESC');
    expect(text.parameters).toEqual([HOSTILE]);
    expect(orderBy([{ field: 'age', type: 'number' }])).toBe(
      "(CASE WHEN jsonb_typeof((custom -> $1)) = 'number' THEN (custom ->> $2)::numeric END) ASC NULLS LAST, id ASC",
    );
    expect(orderBy([{ field: 'flag', type: 'boolean', direction: -1 }])).toBe(
      "(CASE WHEN jsonb_typeof((custom -> $1)) = 'boolean' THEN (custom ->> $2)::boolean END) DESC NULLS LAST, id DESC",
    );
    expect(orderBy([{ field: 'address.city', type: '' }])).toBe('(custom #>> ARRAY[$1, $2]::text[]) ASC NULLS LAST, id ASC');
    expect(orderBy([{ field: 'username', direction: null, type: null }])).toBe('(custom ->> $1) ASC NULLS LAST, id ASC');
  });

  it('rejects invalid sort input', () => {
    expectInputError(() => compileSort({ field: 'id' }), 'sort must be an array');
    expectInputError(() => compileSort(['id']), 'sort must be an array');
    expectInputError(() => compileSort([{ field: '' }]), 'sort field must be a non-empty string');
    expectInputError(() => compileSort([{ direction: 1 }]), 'sort field must be a non-empty string');
    expectInputError(() => compileSort([{ field: 'id', direction: 2 }]), 'sort direction for field id must be 1 or -1');
    expectInputError(() => compileSort([{ field: 'id', direction: '-1' }]), 'must be 1 or -1');
    expectInputError(() => compileSort([{ field: 'age', type: 'date' }]), 'sort type for field age must be');
    expectInputError(() => compileSort([{ field: 'a..b' }]), 'invalid field name');
    expectInputError(
      () => compileSort(['a', 'b', 'c', 'd', 'e', 'f'].map((field) => ({ field }))),
      'sort accepts at most 5 fields',
    );
  });
});

function migrationsDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
}

describe('compiled filters on PGlite', () => {
  let pg: PGlite;

  beforeAll(async () => {
    pg = await migratedPglite();
    const users = [
      {
        id: 'roxy', name: 'Roxy', teams: ['red'], last_active: '2024-06-01T00:00:00Z', created_at: '2024-01-01T00:00:00Z',
        custom: { username: 'roxy_r', email: 'roxy@x.io', age: 30, color: 'red', tags: ['a', 'b'], address: { city: 'Paris', zip: '75001' } },
      },
      {
        id: 'rover', name: 'Curiosity Rover', role: 'admin', teams: ['red', 'blue'], banned: true, created_at: '2024-02-01T00:00:00Z',
        custom: { username: 'mars-rover', age: 25, color: 'blue', tags: ['b'], flag: false },
      },
      {
        id: 'ana', name: 'Ana', teams: [], last_active: '2024-05-01T00:00:00Z', created_at: '2024-03-01T00:00:00Z',
        custom: { age: '40', score: 1.5, flag: true, color: null, address: { city: 'Berlin' } },
      },
      { id: 'bob', name: null, role: 'guest', teams: ['blue'], language: 'fr', shadow_banned: true, created_at: '2024-04-01T00:00:00Z', custom: {} },
      { id: 'user_1', name: 'Zed Ölaf', teams: [], created_at: '2024-05-01T00:00:00Z', custom: { age: 7 } },
      { id: 'userz1', name: 'Zoë', teams: [], created_at: '2024-05-01T00:00:00Z', custom: { [HOSTILE]: 'x' } },
    ];
    for (const user of users) {
      await pg.query(
        `INSERT INTO users (id, name, role, language, teams, banned, shadow_banned, created_at, last_active, custom)
         VALUES ($1, $2, $3, $4, ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6, $7, $8, $9, $10::jsonb)`,
        [
          user.id, user.name, user.role ?? 'user', user.language ?? '', JSON.stringify(user.teams), user.banned ?? false,
          user.shadow_banned ?? false, user.created_at, user.last_active ?? null, JSON.stringify(user.custom),
        ],
      );
    }
  });

  afterAll(async () => {
    await pg?.close();
  });

  async function ids(filter: unknown, sort?: unknown): Promise<string[]> {
    const compiled = sql`SELECT id FROM users WHERE deleted_at IS NULL AND (${compileFilter(filter)}) ORDER BY ${compileSort(sort ?? [{ field: 'id' }])}`.compile(db);
    const result = await pg.query<{ id: string }>(compiled.sql, compiled.parameters as any[]);
    return result.rows.map((row) => row.id);
  }

  it('filters on built-in columns', async () => {
    expect(await ids({})).toEqual(['ana', 'bob', 'rover', 'roxy', 'user_1', 'userz1']);
    expect(await ids({ id: 'roxy' })).toEqual(['roxy']);
    expect(await ids({ id: { $in: ['roxy', 'bob', 'nobody'] } })).toEqual(['bob', 'roxy']);
    expect(await ids({ id: { $nin: ['roxy', 'bob'], $lt: 'user' } })).toEqual(['ana', 'rover']);
    expect(await ids({ name: { $exists: false } })).toEqual(['bob']);
    expect(await ids({ name: { $gte: 'R', $lt: 'S' } })).toEqual(['roxy']);
    expect(await ids({ role: { $in: ['admin', 'guest'] } })).toEqual(['bob', 'rover']);
    expect(await ids({ language: 'fr' })).toEqual(['bob']);
    expect(await ids({ banned: true })).toEqual(['rover']);
    expect(await ids({ shadow_banned: { $ne: false } })).toEqual(['bob']);
    expect(await ids({ bypass_moderation: false })).toHaveLength(6);
  });

  it('filters on teams', async () => {
    expect(await ids({ teams: 'red' })).toEqual(['rover', 'roxy']);
    expect(await ids({ teams: { $contains: 'blue' } })).toEqual(['bob', 'rover']);
    expect(await ids({ teams: { $in: ['blue', 'green'] } })).toEqual(['bob', 'rover']);
    expect(await ids({ teams: null })).toEqual(['ana', 'user_1', 'userz1']);
    expect(await ids({ teams: { $in: [null, 'blue'] } })).toEqual(['ana', 'bob', 'rover', 'user_1', 'userz1']);
  });

  it('filters on timestamps', async () => {
    expect(await ids({ created_at: { $gt: '2024-03-01T00:00:00Z' } })).toEqual(['bob', 'user_1', 'userz1']);
    expect(await ids({ created_at: { $gte: '2024-03-01T00:00:00Z', $lte: '2024-04-01T00:00:00.000000Z' } })).toEqual(['ana', 'bob']);
    expect(await ids({ created_at: '2024-02-01T00:00:00Z' })).toEqual(['rover']);
    expect(await ids({ created_at: { $in: ['2024-02-01T00:00:00Z', '2024-01-01T01:00:00+01:00'] } })).toEqual(['rover', 'roxy']);
    expect(await ids({ last_active: { $exists: false } })).toEqual(['bob', 'rover', 'user_1', 'userz1']);
    expect(await ids({ last_active: { $lt: '2024-05-15T00:00:00Z' } })).toEqual(['ana']);
  });

  it('filters on custom fields', async () => {
    expect(await ids({ color: 'red' })).toEqual(['roxy']);
    expect(await ids({ color: null })).toEqual(['ana', 'bob', 'user_1', 'userz1']);
    expect(await ids({ color: { $ne: 'red' } })).toEqual(['ana', 'bob', 'rover', 'user_1', 'userz1']);
    expect(await ids({ color: { $in: ['red', 'blue'] } })).toEqual(['rover', 'roxy']);
    expect(await ids({ color: { $nin: ['red', null] } })).toEqual(['rover']);
    expect(await ids({ age: { $gt: 10 } })).toEqual(['rover', 'roxy']); // '40' is a string, not a number
    expect(await ids({ age: { $gte: '4' } })).toEqual(['ana']);
    expect(await ids({ age: { $lt: 25 } })).toEqual(['user_1']);
    expect(await ids({ age: { $lte: 25 } })).toEqual(['rover', 'user_1']);
    expect(await ids({ score: 1.5 })).toEqual(['ana']);
    expect(await ids({ flag: { $lt: true } })).toEqual(['rover']);
    expect(await ids({ color: { $exists: true } })).toEqual(['ana', 'rover', 'roxy']);
    expect(await ids({ color: { $exists: false } })).toEqual(['bob', 'user_1', 'userz1']);
    expect(await ids({ tags: { $contains: 'b' } })).toEqual(['rover', 'roxy']);
    expect(await ids({ tags: { $contains: ['a', 'b'] } })).toEqual(['roxy']);
    expect(await ids({ tags: ['b'] })).toEqual(['rover']); // exact, although roxy's tags contain ['b']
    expect(await ids({ address: { city: 'Berlin' } })).toEqual(['ana']);
    expect(await ids({ 'address.city': 'Paris' })).toEqual(['roxy']);
    expect(await ids({ 'address.city': { $gt: 'C' } })).toEqual(['roxy']);
    expect(await ids({ 'address.zip': { $exists: true } })).toEqual(['roxy']);
    expect(await ids({ 'address.zip': { $exists: false } })).toEqual(['ana', 'bob', 'rover', 'user_1', 'userz1']);
    expect(await ids({ username: 'roxy_r' })).toEqual(['roxy']);
    expect(await ids({ email: { $in: ['roxy@x.io', 'x@y.z'] } })).toEqual(['roxy']);
    expect(await ids({ [HOSTILE]: 'x' })).toEqual(['userz1']);
    expect(await ids({ [HOSTILE]: { $exists: true, $gte: 'x' } })).toEqual(['userz1']);
    const tables = await pg.query(`SELECT count(*)::int AS n FROM users`);
    expect(tables.rows).toEqual([{ n: 6 }]);
  });

  it('matches $autocomplete as a case-insensitive word prefix', async () => {
    expect(await ids({ name: { $autocomplete: 'ro' } })).toEqual(['rover', 'roxy']);
    expect(await ids({ name: { $autocomplete: 'ROV' } })).toEqual(['rover']);
    expect(await ids({ name: { $autocomplete: 'cur ro' } })).toEqual(['rover']);
    expect(await ids({ name: { $autocomplete: 'öL' } })).toEqual(['user_1']);
    expect(await ids({ name: { $autocomplete: 'zo' } })).toEqual(['userz1']);
    expect(await ids({ name: { $autocomplete: 'osity' } })).toEqual([]);
    expect(await ids({ username: { $autocomplete: 'rov' } })).toEqual(['rover']);
    expect(await ids({ username: { $autocomplete: 'Mars' } })).toEqual(['rover']);
    expect(await ids({ id: { $autocomplete: 'ro' } })).toEqual(['rover', 'roxy']);
    expect(await ids({ id: { $autocomplete: 'user_' } })).toEqual(['user_1']);
    expect(await ids({ id: { $autocomplete: 'user%1' } })).toEqual([]);
  });

  it('combines conditions with $and, $or and $nor', async () => {
    expect(await ids({ $and: [{ teams: 'red' }, { banned: false }] })).toEqual(['roxy']);
    expect(await ids({ $or: [{ role: 'guest' }, { color: 'blue' }] })).toEqual(['bob', 'rover']);
    // NULL names (bob) count as "not matched" inside $nor
    expect(await ids({ $nor: [{ name: { $gt: 'M' } }, { age: { $gt: 26 } }] })).toEqual(['ana', 'bob', 'rover']);
    expect(await ids({ teams: { $in: ['red', 'blue'] }, $nor: [{ $or: [{ banned: true }, { role: 'guest' }] }] })).toEqual(['roxy']);
  });

  it('runs every operator on a hostile custom field name without harm', async () => {
    const name = `${HOSTILE}.${HOSTILE}`;
    for (const operator of ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$contains']) {
      await ids({ [name]: { [operator]: "'; drop table users; --" } });
    }
    await ids({ [name]: { $in: ['x'], $nin: [{ a: 1 }], $exists: false } });
    expect(await ids({ [name]: { $ne: 'x' } })).toHaveLength(6);
  });

  it('sorts by built-in and custom fields', async () => {
    expect(await ids({}, undefined)).toHaveLength(6);
    const sorted = async (sort: unknown) => {
      const compiled = sql`SELECT id FROM users ORDER BY ${compileSort(sort)}`.compile(db);
      return (await pg.query<{ id: string }>(compiled.sql, compiled.parameters as any[])).rows.map((row) => row.id);
    };
    expect(await sorted(undefined)).toEqual(['userz1', 'user_1', 'bob', 'ana', 'rover', 'roxy']);
    expect(await sorted([{ field: 'name', direction: -1 }])).toEqual(['userz1', 'user_1', 'roxy', 'rover', 'ana', 'bob']);
    expect(await sorted([{ field: 'last_active', direction: -1 }])).toEqual(['roxy', 'ana', 'userz1', 'user_1', 'rover', 'bob']);
    expect(await sorted([{ field: 'age', type: 'number', direction: -1 }])).toEqual(['roxy', 'rover', 'user_1', 'userz1', 'bob', 'ana']);
    expect(await sorted([{ field: 'age' }])).toEqual(['rover', 'roxy', 'ana', 'user_1', 'bob', 'userz1']); // as text
    expect(await sorted([{ field: 'flag', type: 'boolean', direction: -1 }, { field: 'id', direction: 1 }])).toEqual([
      'ana', 'rover', 'bob', 'roxy', 'user_1', 'userz1',
    ]);
    expect(await sorted([{ field: 'address.city' }, { field: 'created_at', direction: -1 }])).toEqual([
      'ana', 'roxy', 'userz1', 'user_1', 'bob', 'rover',
    ]);
  });
});
