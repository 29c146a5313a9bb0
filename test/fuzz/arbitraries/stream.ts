// Values for the fields whose schema says little ("any object") but whose meaning is rich: Stream's filter language,
// partial-update paths, custom data, sort, date-times, ids. Chosen by property name (see `hintFor`), so a new route
// with the same field names gets them without editing the suite. Each comes plausible (`hostile` false: requests that
// should be accepted, so that accepted paths run) or with its own hostile variants added.
import fc from 'fast-check';
import { deepValue, dottedPath, hostileKey, hostileString, hostileValue, hugeArray, idLike, manyKeys, prototypeObject } from './values.js';

export interface Seeds {
  /** User ids worth aiming at (existing, deactivated, deleted, missing); the first is the user caller's own. */
  userIds: readonly string[];
  taskIds: readonly string[];
  teams: readonly string[];
  /** A signed-in dashboard operator: its session cookie and CSRF token. */
  operator?: { cookie: string; csrf: string };
}

const FIELDS = ['id', 'name', 'role', 'language', 'teams', 'banned', 'shadow_banned', 'bypass_moderation', 'created_at', 'updated_at', 'last_active', 'username', 'email', 'color', 'nested.level', 'book'];
const OPERATORS = ['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists', '$autocomplete', '$contains'];
const UNKNOWN_OPERATORS = ['$foo', '$q', '$regex', '$where', '$', '$EQ', '$eq ', 'eq', '$__proto__', '$constructor'];
const LOGICAL = ['$and', '$or', '$nor'] as const;

/** `plausible` alone, or with `hostile` added when asked for. */
function withHostile<T>(hostile: boolean, plausible: fc.Arbitrary<T>, ...others: Array<fc.WeightedArbitrary<T>>): fc.Arbitrary<T> {
  return hostile ? fc.oneof({ weight: 3, arbitrary: plausible }, ...others) : plausible;
}

/** Date-times as clients write them, and as they should not. */
export function dateTime(hostile: boolean): fc.Arbitrary<unknown> {
  const plausible = fc
    .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString());
  const odd = fc.constantFrom<unknown>(
    '2024-01-01T00:00:00.123456789+02:00', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '10000-01-01T00:00:00Z',
    '294277-01-01T00:00:00Z', '-4713-01-01T00:00:00Z', '2024-13-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-01-01T25:00:00Z',
    '2024-01-01', '2024-01-01 00:00:00', 'now', 'epoch', 'infinity', '-infinity', 'allballs', '', 0, -1, 1e20, 1704067200,
    '1704067200000000000', '2024-01-01T00:00:00+99:00', '2024-01-01T00:00:00 America/Nowhere',
  );
  return withHostile(hostile, plausible, { weight: 2, arbitrary: odd });
}

function operand(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const plausible = fc.oneof(
    { weight: 4, arbitrary: idLike(seeds.userIds, false) },
    { weight: 2, arbitrary: fc.constantFrom<unknown>(...seeds.teams, 'admin', 'user', 'fr', 'red', 'Ali', true, false, 0, 1) },
    { weight: 2, arbitrary: fc.array(idLike(seeds.userIds, false), { minLength: 1, maxLength: 4 }) },
    { weight: 1, arbitrary: dateTime(false) },
  );
  return withHostile(hostile, plausible, { weight: 2, arbitrary: hostileValue(seeds.userIds) }, { weight: 1, arbitrary: idLike(seeds.userIds) });
}

/** `{ $op: operand, … }`, or a bare value (an implicit $eq). */
function condition(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const op = withHostile(hostile, fc.constantFrom(...OPERATORS), { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN_OPERATORS) });
  return fc.oneof({ weight: 3, arbitrary: operand(seeds, hostile) }, { weight: 4, arbitrary: fc.dictionary(op, operand(seeds, hostile), { minKeys: 1, maxKeys: 2 }) });
}

/** Wraps a filter in `$and`/`$or`/`$nor`, field and prototype objects, so that what it holds sits at any depth. */
function buried(inner: unknown, path: Array<(typeof LOGICAL)[number] | 'field' | 'proto'>): unknown {
  let value = inner;
  for (const step of [...path].reverse()) {
    if (step === 'field') value = { color: value };
    else if (step === 'proto') value = { constructor: { prototype: value } };
    else value = Object.fromEntries([[step, [value]]]);
  }
  return value;
}

/**
 * Stream's `filter_conditions`: filters over the seeded users with nested logic; when hostile, unknown `$`
 * operators, prototype keys, dotted paths and oversized lists at any depth.
 */
export function filterConditions(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const field = withHostile(hostile, fc.constantFrom(...FIELDS), { weight: 1, arbitrary: hostileKey() }, { weight: 1, arbitrary: dottedPath() });
  const leaf = fc.dictionary(field, condition(seeds, hostile), { minKeys: 0, maxKeys: 3 });
  const tree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.tuple(fc.constantFrom(...LOGICAL), fc.array(tie('node'), { minLength: 1, maxLength: 3 })).map(([op, items]) => Object.fromEntries([[op, items]])),
    ),
  })).node;
  if (!hostile) return tree;
  const unknownOperator = fc.oneof(
    fc.tuple(fc.constantFrom(...UNKNOWN_OPERATORS), fc.constantFrom<unknown>(1, 'x', [], {})).map(([op, v]) => Object.fromEntries([[op, v]])),
    prototypeObject(fc.constantFrom<unknown>(1, { $foo: 1 }, { $eq: 'fz-alice' })),
  );
  const step = fc.constantFrom<(typeof LOGICAL)[number] | 'field' | 'proto'>(...LOGICAL, 'field', 'proto');
  return fc.oneof(
    { weight: 5, arbitrary: tree },
    { weight: 3, arbitrary: fc.tuple(unknownOperator, fc.array(step, { maxLength: 12 })).map(([inner, path]) => buried(inner, path)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('id', 'teams', 'color'), fc.constantFrom('$in', '$nin', '$contains'), hugeArray(seeds.userIds)).map(([f, op, list]) => ({ [f]: { [op]: list } })) },
    { weight: 1, arbitrary: fc.tuple(deepValue(), fc.nat({ max: 2 })).map(([deep, i]) => [{ $and: [deep] }, { color: deep }, { color: { $eq: deep } }][i]) },
    { weight: 1, arbitrary: manyKeys() },
    { weight: 1, arbitrary: hostileValue(seeds.userIds) },
  );
}

/** Stream's `sort`: [{field, direction}]. */
export function sort(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const entry = fc.record(
    {
      field: withHostile(hostile, fc.constantFrom(...FIELDS), { weight: 1, arbitrary: hostileKey() }),
      direction: withHostile(hostile, fc.constantFrom<unknown>(1, -1), { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 2, '1', null, 1.5, 1e308) }),
      type: fc.constantFrom<unknown>('string', 'number', '', '$foo'),
    },
    { requiredKeys: ['field'] },
  );
  return withHostile(hostile, fc.array(entry, { maxLength: 3 }), { weight: 1, arbitrary: fc.array(entry, { minLength: 6, maxLength: 8 }) }, { weight: 1, arbitrary: hostileValue(seeds.userIds) });
}

/** Custom data: plausible objects; when hostile, deep, wide, prototype-keyed or huge ones. */
export function customData(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const plausible = fc.dictionary(fc.constantFrom('color', 'book', 'age', 'nested', 'tags'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
  return withHostile(
    hostile,
    plausible,
    { weight: 1, arbitrary: fc.dictionary(hostileKey(), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 3 }) },
    { weight: 2, arbitrary: deepValue().map((deep) => ({ deep })) },
    { weight: 1, arbitrary: prototypeObject(fc.constantFrom<unknown>(1, { polluted: true })) },
    { weight: 1, arbitrary: hostileValue(seeds.userIds) },
  );
}

/** Fields a partial update may set, each with values of the right type (and an existing team, a known role). */
function settable(seeds: Seeds): Array<[string, fc.Arbitrary<unknown>]> {
  const team = fc.constantFrom(...seeds.teams);
  return [
    ['name', fc.string({ maxLength: 20 })],
    ['image', fc.webUrl()],
    ['role', fc.constantFrom('user', 'admin', 'guest')],
    ['language', fc.constantFrom('en', 'fr', 'nl')],
    ['invisible', fc.boolean()],
    ['teams', fc.array(team, { maxLength: 3 })],
    ['teams_role', fc.dictionary(team, fc.constantFrom('admin', 'member'), { maxKeys: 2 })],
    ['privacy_settings', fc.record({ typing_indicators: fc.record({ enabled: fc.boolean() }) }, { requiredKeys: [] })],
    ['custom', fc.dictionary(fc.constantFrom('color', 'book'), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 })],
    ['color', fc.jsonValue({ maxDepth: 2 })],
    ['book', fc.string({ maxLength: 10 })],
    ['nested.level', fc.integer()],
    ['a.b', fc.jsonValue({ maxDepth: 1 })],
    ['revoke_tokens_issued_before', fc.oneof(fc.constant(null), dateTime(false))],
  ];
}

/** A partial update's `set`: known and custom fields with fitting values; when hostile, any path, key and value. */
export function partialSet(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const fields = settable(seeds);
  const plausible = fc
    .subarray(fields, { maxLength: 3 })
    .chain((chosen) => fc.tuple(...chosen.map(([key, value]) => value.map((v): [string, unknown] => [key, v]))))
    .map((entries) => Object.fromEntries(entries));
  if (!hostile) return plausible;
  const key = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...fields.map(([k]) => k)) },
    { weight: 3, arbitrary: dottedPath() },
    { weight: 2, arbitrary: hostileKey() },
    { weight: 1, arbitrary: fc.constantFrom('id', 'created_at', 'updated_at', 'deactivated_at', 'deleted_at', 'banned', 'last_active') },
  );
  const value = fc.oneof({ weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: dateTime(true) }, { weight: 2, arbitrary: hostileValue(seeds.userIds) });
  return fc.oneof(
    { weight: 2, arbitrary: plausible },
    { weight: 5, arbitrary: fc.dictionary(key, value, { minKeys: 1, maxKeys: 3 }) },
    { weight: 1, arbitrary: hostileValue(seeds.userIds) },
  );
}

/** A partial update's `unset`: field names and paths. */
export function partialUnset(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const field = withHostile(hostile, fc.constantFrom('name', 'image', 'custom', 'color', 'book', 'nested.level', 'a.b', 'teams_role'), { weight: 1, arbitrary: dottedPath() }, { weight: 1, arbitrary: hostileKey() }, { weight: 1, arbitrary: fc.constantFrom('id', 'role', 'teams', 'created_at') });
  return withHostile(hostile, fc.array(field, { maxLength: 3 }), { weight: 1, arbitrary: hostileValue(seeds.userIds) });
}

/** Team names. */
export function teams(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const team = withHostile(hostile, fc.constantFrom(...seeds.teams), { weight: 1, arbitrary: hostileString() });
  return withHostile(hostile, fc.array(team, { maxLength: 3 }), { weight: 1, arbitrary: hostileValue(seeds.userIds) });
}

/**
 * The rich generator for a property, by its name (and JSON Schema format), or undefined for the plain schema-driven
 * one. Ids get seeded ids, so that requests reach existing rows.
 * (Array items are named after their array: `user_ids` → `user_id`.)
 */
export function hintFor(name: string | undefined, schema: { format?: unknown; type?: unknown }, seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> | undefined {
  if (schema.format === 'date-time') return dateTime(hostile);
  switch (name) {
    case 'filter_conditions':
      return filterConditions(seeds, hostile);
    case 'sort':
      return sort(seeds, hostile);
    case 'set':
      return partialSet(seeds, hostile);
    case 'unset':
      return partialUnset(seeds, hostile);
    case 'custom':
      return customData(seeds, hostile);
    case 'teams':
      return teams(seeds, hostile);
  }
  // `id`, `user_id`, `created_by_id`...: in a body, the id of a user. Always a plausible one, even in hostile values:
  // a request with one hostile part gets furthest (hostile ids come from mutations and path parameters).
  if (name && /(^|_)id$/.test(name) && (schema.type === 'string' || schema.type === undefined)) return idLike(seeds.userIds, false);
  return undefined;
}

/**
 * A guest's `user` with every field a user has (CreateGuest): the ones a user may set on itself, the server-owned
 * ones (role, teams, teams_role), read-only ones, and top-level custom fields as v1 sends them; each present or not,
 * with a fitting value or, when hostile, any.
 */
export function guestUser(seeds: Seeds, hostile: boolean): fc.Arbitrary<unknown> {
  const fields: Array<[string, fc.Arbitrary<unknown>]> = [
    ...settable(seeds).filter(([key]) => !key.includes('.') && key !== 'revoke_tokens_issued_before'),
    ['teams', fc.oneof(fc.constant<unknown>([]), fc.constant<unknown>(null), fc.array(fc.constantFrom(...seeds.teams), { maxLength: 2 }))],
    ['teams_role', fc.oneof(fc.constant<unknown>(null), fc.dictionary(fc.constantFrom(...seeds.teams), fc.constantFrom('admin', 'member'), { maxKeys: 2 }))],
    ['role', fc.constantFrom<unknown>('guest', 'user', 'admin', null)],
    ['created_at', dateTime(hostile)],
    ['updated_at', dateTime(hostile)],
    ['last_active', dateTime(hostile)],
    ['deactivated_at', dateTime(hostile)],
    ['deleted_at', dateTime(hostile)],
    ['revoke_tokens_issued_before', dateTime(hostile)],
    ['banned', fc.boolean()],
    ['shadow_banned', fc.boolean()],
    ['online', fc.boolean()],
    ['bypass_moderation', fc.boolean()],
    ['blocked_user_ids', fc.array(idLike(seeds.userIds), { maxLength: 2 })],
  ];
  const valued = fields.map(([key, value]): [string, fc.Arbitrary<unknown>] => [key, hostile ? fc.oneof({ weight: 3, arbitrary: value }, { weight: 1, arbitrary: hostileValue(seeds.userIds) }) : value]);
  return fc
    .tuple(idLike(seeds.userIds), fc.subarray(valued), customData(seeds, hostile))
    .chain(([id, chosen, custom]) =>
      fc.tuple(...chosen.map(([key, value]) => value.map((v): [string, unknown] => [key, v]))).map((entries) => ({ id, ...Object.fromEntries(entries), custom })),
    );
}
