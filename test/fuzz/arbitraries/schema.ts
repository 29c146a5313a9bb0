// Values shaped by a route's JSON Schema (as the app's OpenAPI document has it, $refs resolved). Three strengths:
//   valid     what the schema asks for, with plausible ids, filters, paths: requests that reach the handlers and
//             are often accepted, so that accepted paths are exercised too;
//   mutated   a valid value with exactly one hostile change somewhere in it (a node replaced, a key added to an
//             object, an item to an array): deep inside an otherwise good request, where checks are thinnest;
//   hostile   the rich fields (filters, partial-update paths, custom data, dates...) with their hostile variants,
//             limits (maxItems) overstepped, unknown keys on objects now and then; ids stay plausible, so that the
//             hostile parts get as far as they can.
import fc from 'fast-check';
import type { JsonSchema } from '../../helpers/routes.js';
import { hintFor, type Seeds } from './stream.js';
import { hostileKey, hostileValue, idLike } from './values.js';

export type Strength = 'valid' | 'mutated' | 'hostile';

/** Beyond this depth of schema, objects are left empty (a schema may refer to itself). */
const MAX_SCHEMA_DEPTH = 6;

interface Context {
  seeds: Seeds;
  hostile: boolean;
}

function types(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type as string[];
  if (typeof schema.type === 'string') return [schema.type];
  if (schema.properties || schema.additionalProperties) return ['object'];
  if (schema.items) return ['array'];
  return [];
}

function plainString(schema: JsonSchema, name: string | undefined, ctx: Context): fc.Arbitrary<unknown> {
  if (typeof schema.pattern === 'string') {
    return fc.stringMatching(new RegExp(schema.pattern)).map((s) => s.slice(0, Number(schema.maxLength ?? 1_000)));
  }
  const maxLength = Math.min(Number(schema.maxLength ?? 24), 24);
  const minLength = Math.min(Number(schema.minLength ?? 0), maxLength);
  const plain = fc.string({ minLength: Math.max(minLength, 1), maxLength: Math.max(maxLength, 1) });
  // Names and roles meet the seeded users' (unique names, role checks) now and then.
  if (name && /name|role|user/.test(name)) return fc.oneof(plain, fc.constantFrom('Alice', 'admin', 'user', 'guest'), idLike(ctx.seeds.userIds, false));
  return plain;
}

function arrayOf(schema: JsonSchema, name: string | undefined, ctx: Context, depth: number): fc.Arbitrary<unknown> {
  // `user_ids` holds user ids: the items are generated as if each were named `user_id`.
  const items = typed((schema.items ?? {}) as JsonSchema, name?.replace(/s$/, ''), ctx, depth + 1);
  const minLength = Number(schema.minItems ?? 0);
  const maxItems = schema.maxItems === undefined ? undefined : Number(schema.maxItems);
  const maxLength = Math.max(minLength, Math.min(maxItems ?? 3, 3));
  // Mostly not empty: an empty list is one boring case.
  const within = fc.oneof({ weight: 1, arbitrary: fc.array(items, { minLength, maxLength }) }, { weight: 4, arbitrary: fc.array(items, { minLength: Math.max(minLength, 1), maxLength: Math.max(maxLength, 1) }) });
  if (!ctx.hostile || maxItems === undefined) return within;
  // One past the limit, each item valid: is the limit enforced, with a 4xx?
  return fc.oneof({ weight: 9, arbitrary: within }, { weight: 1, arbitrary: fc.array(items, { minLength: maxItems + 1, maxLength: maxItems + 1 }) });
}

function objectOf(schema: JsonSchema, ctx: Context, depth: number): fc.Arbitrary<unknown> {
  if (depth > MAX_SCHEMA_DEPTH) return fc.constant({});
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required ?? []) as string[];
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, propertySchema] of Object.entries(properties)) model[key] = typed(propertySchema, key, ctx, depth + 1);
  const known = fc.record(model, { requiredKeys: required.filter((key) => key in model) });

  const additional = schema.additionalProperties;
  let extra: fc.Arbitrary<Array<[string, unknown]>> = fc.constant([]);
  if (additional && typeof additional === 'object' && Object.keys(additional).length > 0) {
    const valueSchema = additional as JsonSchema;
    const value = typed(valueSchema, undefined, ctx, depth + 1);
    if (Array.isArray(valueSchema.required) && (valueSchema.required as string[]).includes('id')) {
      // A map of objects keyed by their id (upsert's `users`): key and id agree, but not always.
      extra = fc.array(fc.tuple(value, fc.nat({ max: 9 }), idLike(ctx.seeds.userIds, false)), { minLength: 1, maxLength: 3 }).map((entries) =>
        entries.map(([v, dice, otherKey]): [string, unknown] => {
          const id = v && typeof v === 'object' && 'id' in v ? String((v as { id: unknown }).id) : otherKey;
          return [dice === 0 ? otherKey : id, v];
        }),
      );
    } else {
      extra = fc.array(fc.tuple(ctx.hostile ? fc.oneof(fc.constantFrom('color', 'red'), hostileKey()) : fc.constantFrom('color', 'book', 'red'), value), { maxLength: 3 });
    }
  }
  // Unknown keys, on closed objects too: the server must refuse or ignore them, never trip on them.
  const unknown: fc.Arbitrary<Array<[string, unknown]>> = ctx.hostile
    ? fc.oneof({ weight: 5, arbitrary: fc.constant<Array<[string, unknown]>>([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(hostileKey(), hostileValue(ctx.seeds.userIds)), { minLength: 1, maxLength: 2 }) })
    : fc.constant([]);
  // Object.fromEntries: a "__proto__" key becomes an own property (JSON.stringify writes it), not a prototype.
  return fc.tuple(known, extra, unknown).map(([k, e, u]) => Object.fromEntries([...u, ...e, ...Object.entries(k as object)]));
}

/** One value of the schema's type(s). */
function typed(schema: JsonSchema, name: string | undefined, ctx: Context, depth: number): fc.Arbitrary<unknown> {
  const hint = hintFor(name, schema, ctx.seeds, ctx.hostile);
  if (hint) return hint;
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const alternatives = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) return fc.oneof(...alternatives.map((a) => typed(a, name, ctx, depth)));
  const candidates = types(schema).map((type): fc.Arbitrary<unknown> => {
    switch (type) {
      case 'string':
        return plainString(schema, name, ctx);
      case 'integer':
        return fc.integer({ min: Number(schema.minimum ?? -1_000), max: Number(schema.maximum ?? 1_000) });
      case 'number':
        return fc.double({ min: Number(schema.minimum ?? -1e6), max: Number(schema.maximum ?? 1e6), noNaN: true });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return arrayOf(schema, name, ctx, depth);
      case 'object':
        return objectOf(schema, ctx, depth);
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  });
  if (candidates.length === 0) return fc.jsonValue({ maxDepth: 2 }); // `{}`: any value
  return candidates.length === 1 ? candidates[0]! : fc.oneof(...candidates);
}

// ---------------------------------------------------------------------------------------------------------------
// One mutation anywhere in a value
// ---------------------------------------------------------------------------------------------------------------

type Container = Record<string, unknown> | unknown[];
interface Place {
  node: unknown;
  parent?: Container;
  key?: string | number;
}

/** Every value inside `value` (itself included), with the place it sits in. */
function places(value: unknown): Place[] {
  const out: Place[] = [];
  const stack: Place[] = [{ node: value }];
  while (stack.length > 0) {
    const place = stack.pop()!;
    out.push(place);
    const node = place.node;
    if (Array.isArray(node)) node.forEach((v, i) => stack.push({ node: v, parent: node, key: i }));
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) stack.push({ node: v, parent: node as Container, key: k });
  }
  return out;
}

/** A deep copy that keeps `__proto__` keys as own properties (the values are small: deep ones are JSON text). */
function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  return value;
}

function setOwn(target: Container, key: string | number, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * `valid` with one change at a random place: any member (an id, a flag, a whole object) replaced by a hostile value,
 * a hostile key added to an object (with a harmless or a hostile value), or a hostile item appended to an array.
 */
function mutateOnce(valid: fc.Arbitrary<unknown>, seeds: Seeds): fc.Arbitrary<unknown> {
  const how = fc.constantFrom('replace', 'add key', 'append') as fc.Arbitrary<'replace' | 'add key' | 'append'>;
  const keyValue = fc.oneof(fc.constantFrom<unknown>(1, 'x', true, null, {}), hostileValue(seeds.userIds));
  return fc.tuple(valid, fc.nat(), how, hostileKey(), keyValue, hostileValue(seeds.userIds)).map(([original, pick, change, key, value, hostile]) => {
    const root = copy(original);
    const all = places(root);
    const objects = all.filter((p) => p.node && typeof p.node === 'object' && !Array.isArray(p.node));
    const arrays = all.filter((p) => Array.isArray(p.node));
    if (change === 'add key' && objects.length > 0) {
      setOwn(objects[pick % objects.length]!.node as Container, key, value);
    } else if (change === 'append' && arrays.length > 0) {
      (arrays[pick % arrays.length]!.node as unknown[]).push(hostile);
    } else {
      const members = all.filter((p) => p.parent !== undefined);
      if (members.length === 0) return hostile;
      const place = members[pick % members.length]!;
      setOwn(place.parent!, place.key!, hostile);
    }
    return root;
  });
}

/** A value for `schema` at the given strength. */
export function fromSchema(schema: JsonSchema, name: string | undefined, seeds: Seeds, strength: Strength): fc.Arbitrary<unknown> {
  const valid = typed(schema, name, { seeds, hostile: false }, 0);
  switch (strength) {
    case 'valid':
      return valid;
    case 'mutated':
      return mutateOnce(valid, seeds);
    case 'hostile':
      return typed(schema, name, { seeds, hostile: true }, 0);
  }
}
