// Hostile building blocks for any position of a request: strings, ids, object keys and JSON values that a careful
// server must refuse with a 4xx (or accept), never fail on. Sizes are drawn both from known thresholds (Stream's
// limits, Fastify's, PostgreSQL's) and from whole ranges, so that a threshold nobody wrote down is found too.
import fc from 'fast-check';

/** Characters and fragments that break naive code: separators, escapes, NUL, lone surrogates, SQL, JSON, paths. */
export const METACHARACTERS = [
  ' ', '\t', '\n', '\r', '\u0000', '\u0001', '\u007f', '\u0085', '\u00a0', '\u200b', '\u2028', '\ufeff', '\ud800', '\udfff',
  'é', 'ß', 'İ', '日本', '😀', '\u0301',
  '.', '..', '../', '..\\', '/', '\\', '%', '%00', '%2e%2e%2f', '%%', '?', '#', '&', '=', '+', ';', ',', ':', '*', '~',
  "'", '"', '`', "''", '--', '/*', '*/', "' OR '1'='1", "'; DROP TABLE users; --", '$1', '\\x00', 'E\'\\\\', '::text',
  '{', '}', '[', ']', '{}', '[]', 'null', 'true', '\\u0000', '\\"', '${x}', '{{x}}', '<script>', '@', '-', '_',
] as const;

/** Sizes where something usually changes: Stream's limits (100 users, 255-char ids, 5 KiB users), Fastify's 100-char
 * path parameters, PostgreSQL's btree row limit (~2.7 KB), the 1 MiB body limit. */
const LENGTH_THRESHOLDS = [0, 1, 2, 63, 64, 99, 100, 101, 127, 128, 200, 254, 255, 256, 257, 1000, 1024, 2700, 3000, 5120, 8192, 10_000];

/** Sizes at every scale up to `max`, spread evenly over orders of magnitude (so big ones stay rare and cheap). */
export function logUniform(max: number): fc.Arbitrary<number> {
  const bits = Math.ceil(Math.log2(max));
  return fc.tuple(fc.integer({ min: 0, max: bits }), fc.nat({ max: 1023 })).map(([k, jitter]) => Math.min(max, 2 ** k + Math.floor((jitter * 2 ** k) / 1024)));
}

/** A length: mostly a threshold, sometimes any size up to `max`. */
export function length(max: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...LENGTH_THRESHOLDS.filter((n) => n <= max)) },
    { weight: 1, arbitrary: logUniform(max) },
  );
}

/** Strings made of metacharacters, short or long. */
export function hostileString(): fc.Arbitrary<string> {
  const unit = fc.constantFrom<string>(...METACHARACTERS, 'a', 'Z', '0');
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<string>(...METACHARACTERS) },
    { weight: 3, arbitrary: fc.string({ unit, minLength: 1, maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
    { weight: 1, arbitrary: longString(20_000) },
  );
}

/** One character repeated: long ids, names, keys. `max` bounds the length (the body limit is 1 MiB). */
export function longString(max: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom('a', 'é', '日', '😀', ' ', '\u0000', '.'), length(max))
    .map(([char, n]) => char.repeat(Math.ceil(n / char.length)).slice(0, Math.max(n, 1)));
}

/**
 * Ids: mostly the seeded ones, the first (the user caller's own) most of all, so that requests reach rows and go
 * deep; then well-formed random ones. When `hostile`, a third are lengths around the thresholds, hostile strings,
 * or hostile strings glued to a seeded id.
 */
export function idLike(seeded: readonly string[], hostile = true): fc.Arbitrary<string> {
  const [first, ...rest] = seeded;
  const known = rest.length > 0 ? fc.oneof({ weight: 6, arbitrary: fc.constant(first!) }, { weight: rest.length, arbitrary: fc.constantFrom(...rest) }) : fc.constant(first!);
  const valid = fc.oneof(
    { weight: 9, arbitrary: known },
    { weight: 2, arbitrary: fc.stringMatching(/^[@\w-]{1,40}$/) },
    { weight: 1, arbitrary: known.map((id) => id.toUpperCase()) },
  );
  if (!hostile) return valid;
  return fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 2, arbitrary: length(5_000).map((n) => 'i'.repeat(n)) },
    { weight: 2, arbitrary: hostileString() },
    {
      weight: 2,
      arbitrary: fc
        .tuple(known, fc.constantFrom<string>(...METACHARACTERS), fc.boolean())
        .map(([id, extra, before]) => (before ? extra + id : id + extra)),
    },
  );
}

/**
 * A dotted path, as partial updates and custom-field filters read them: long ones of one well-formed segment (their
 * length is what matters), or short ones mixing in empty, blank and prototype segments.
 */
export function dottedPath(): fc.Arbitrary<string> {
  const segmentCount = fc.oneof(fc.constantFrom(2, 3, 10, 11, 100, 255, 256, 500, 1000, 1600, 2000, 3000, 5000), logUniform(6_000).map((n) => n + 1));
  const wellFormed = fc.constantFrom('a', 'x1', 'name', 'custom', '0', '__proto__', 'constructor', 'prototype', '$x');
  const any = fc.oneof(wellFormed, fc.constantFrom('', ' ', '..', 'a b', '\u0000'));
  return fc.oneof(
    { weight: 2, arbitrary: fc.tuple(wellFormed, segmentCount).map(([s, n]) => Array.from({ length: n }, () => s).join('.')) },
    { weight: 1, arbitrary: fc.array(any, { minLength: 2, maxLength: 8 }).map((parts) => parts.join('.')) },
  );
}

/** Keys that have a meaning somewhere: prototype keys, operators, dotted paths, stored column names, empty ones. */
export function hostileKey(): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        '__proto__', 'constructor', 'prototype', 'constructor.prototype', '__proto__.polluted', 'toString', 'valueOf',
        'hasOwnProperty', 'then', '$foo', '$where', '$eq', '$in', '$and', '$or', '$nor', '$ne', '$exists', '$regex', '$',
        '', '.', '..', 'a.', '.a', 'a..b', 'a.b', 'id', 'role', 'teams', 'custom', 'created_at', 'deleted_at',
        'deactivated_at', 'last_active', 'banned', 'revoke_tokens_issued_before', 'teams_role', 'privacy_settings',
      ),
    },
    { weight: 2, arbitrary: dottedPath() },
    { weight: 2, arbitrary: hostileString() },
    { weight: 1, arbitrary: longString(20_000) },
  );
}

/**
 * `depth` levels of nesting, in the most compact JSON form (so deep values stay under size limits), as JSON text
 * spliced in by `toJsonText`: building and serializing 10,000 levels of objects would overflow the test's own stack.
 */
export function nestedJson(depth: number, kind: 'array' | 'object' | 'mixed'): string {
  const open = kind === 'array' ? '[' : kind === 'object' ? '{"a":' : '[{"a":';
  const close = kind === 'array' ? ']' : kind === 'object' ? '}' : '}]';
  const levels = kind === 'mixed' ? Math.ceil(depth / 2) : depth;
  return `${open.repeat(levels)}1${close.repeat(levels)}`;
}

/** Deeply nested JSON: depths around where recursion or PostgreSQL's jsonb limits bite, and anything up to 10,000. */
export function deepValue(): fc.Arbitrary<unknown> {
  const depth = fc.oneof(fc.constantFrom(16, 32, 64, 100, 128, 256, 500, 700, 1000, 1500, 2000, 2500, 5000), logUniform(10_000));
  const kind = fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>;
  return fc.tuple(depth, kind).map(([d, k]) => asRawJson(nestedJson(d, k)));
}

/** Arrays far past every limit (100 users, 250 teams, 1,000 filter values), of one repeated element. */
export function hugeArray(seeded: readonly string[]): fc.Arbitrary<unknown[]> {
  const size = fc.constantFrom(26, 101, 251, 1001, 10_000, 100_000);
  const element = fc.constantFrom<unknown>(seeded[0], 'a', 0, null, {}, [], true);
  return fc.tuple(size, element).map(([n, e]) => remembered(`array ${n} ${JSON.stringify(e)}`, (): unknown[] => Object.freeze(Array.from({ length: n }, () => e)) as unknown[]));
}

/** An object with very many keys (each one a field, a condition, a user...). */
export function manyKeys(): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(fc.constantFrom(101, 1001, 10_000, 50_000), fc.constantFrom('k', 'a.b', '$x', 'id'))
    .map(([n, prefix]) => remembered(`keys ${n} ${prefix}`, () => Object.freeze(Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i])))));
}

/**
 * A generated piece built once per key, for every case that uses it: the oversized collections and bodies (a
 * 50,000-key object costs more to build than the request that sends it), escapes. Cases share what it returns: an
 * object is frozen by its builder, as cases serialize or copy it, never change it.
 */
const rememberedValues = new Map<string, unknown>();
export function remembered<T>(key: string, build: () => T): T {
  if (!rememberedValues.has(key)) rememberedValues.set(key, build());
  return rememberedValues.get(key) as T;
}

/**
 * Text that JSON.stringify cannot produce, spliced into the serialized body: numbers past double precision or
 * range, and escapes of lone surrogates and NUL. See `toJsonText`.
 */
export const RAW_JSON = ['1e999', '-1e999', '123456789012345678901234567890', '1e-999', '-0', '0.0000000000000000000001', '"\\ud800"', '"\\u0000"', '"\\udfff\\ud800"'];
const RAW_OPEN = '\ue000raw:';
const RAW_CLOSE = '\ue001';

/** A placeholder for JSON text, put in place by `toJsonText`. */
export function asRawJson(text: string): string {
  return `${RAW_OPEN}${text}${RAW_CLOSE}`;
}

/** A value as text: the JSON text of a raw placeholder, else the string itself (forms and query strings). */
export function asText(value: unknown): string {
  if (typeof value === 'string') return value.startsWith(RAW_OPEN) ? toJsonText(value) : value;
  return toJsonText(value);
}

export function rawJson(): fc.Arbitrary<string> {
  return fc.constantFrom(...RAW_JSON).map(asRawJson);
}

/** JSON.stringify, with the raw fragments of `asRawJson` put in place. */
export function toJsonText(value: unknown): string {
  if (typeof value === 'string' && value.startsWith(RAW_OPEN) && value.endsWith(RAW_CLOSE) && value.indexOf(RAW_CLOSE) === value.length - 1) {
    return value.slice(RAW_OPEN.length, -RAW_CLOSE.length);
  }
  const text = JSON.stringify(value) ?? 'null';
  return text.includes(RAW_OPEN) ? text.replace(/"\ue000raw:(.*?)\ue001"/g, (_, raw: string) => JSON.parse(`"${raw}"`)) : text;
}

/** Objects built with prototype keys as own properties (`{"__proto__": …}` in the JSON text), and unknown operators. */
export function prototypeObject(inner: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    inner.map((v) => Object.fromEntries([['__proto__', v]])),
    inner.map((v) => ({ constructor: { prototype: v } })),
    inner.map((v) => Object.fromEntries([['__proto__', { polluted: v }]])),
    inner.map((v) => ({ constructor: { prototype: { $foo: v } } })),
  );
}

/** Any value in a position meant for something else: wrong types, edge numbers and dates, sizes, depth. */
export function hostileValue(seeded: readonly string[]): fc.Arbitrary<unknown> {
  const edge = fc.constantFrom<unknown>(
    null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), '', '0', 'true', 'null', '[]', '{}',
    '2024-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999Z', '294277-01-01T00:00:00Z', '1970-01-01',
    '2024-02-30T00:00:00Z', 'yesterday', '-infinity', 'infinity', 'NaN', [], {}, [null], [[]], [{}],
  );
  return fc.oneof(
    { weight: 6, arbitrary: edge },
    { weight: 4, arbitrary: hostileString() },
    { weight: 1, arbitrary: rawJson() },
    { weight: 2, arbitrary: deepValue() },
    // Oversized collections: rare, as each costs the server (and the test) a megabyte of JSON.
    { weight: 1, arbitrary: fc.oneof(hugeArray(seeded), manyKeys()) },
    { weight: 2, arbitrary: prototypeObject(fc.constantFrom<unknown>(1, 'x', true, { $foo: 1 }, { $eq: 1 })) },
    { weight: 2, arbitrary: fc.tuple(hostileKey(), fc.constantFrom<unknown>(1, 'x', null, {})).map(([k, v]) => Object.fromEntries([[k, v]])) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}
