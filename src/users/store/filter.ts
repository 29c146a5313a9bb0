// Compiles Stream's Mongo-like `filter_conditions` and `sort` (queryUsers) into SQL over the `users` table.
//
// Safety: every user-supplied value and every custom field name reaches PostgreSQL as a bind parameter. SQL text is
// only ever built from the fixed column whitelist and constants in this file, so nothing a client sends can change
// the shape of the statement. All validation happens while compiling, so invalid input fails before any SQL runs.
//
// Index use (see migrations/001_users.sql): built-in fields compare typed columns directly; custom-field equality
// and $contains are expressed as `custom @> '{...}'` so the jsonb_path_ops GIN index applies; $autocomplete uses
// the exact tsvector expressions of the two word indexes.
import { sql, type RawBuilder } from 'kysely';
import { requestTimeToSql } from '../../db/timestamps.js';
import { inputError } from '../../http/errors.js';
import { isPlainObject } from '../../lib/json.js';
import { DEFAULT_LIMITS, type InputLimits } from '../../limits.js';

export interface SortEntry {
  field: string;
  direction?: number;
  type?: string;
}

/** Logical operators nest; beyond this depth a filter is rejected (it is also a recursion guard). */
const MAX_DEPTH = 10;
/** Field/operator pairs in one filter. */
const MAX_CONDITIONS = 100;
/** Items in one $in / $nin list. */
const MAX_LIST_ITEMS = 100;
/** Values across the whole filter (list items count one each); bounds the number of bind parameters. */
const MAX_TOTAL_VALUES = 1000;
const MAX_SORT_ENTRIES = 5;

const AUTOCOMPLETE_INVALID =
  '$autocomplete field is empty or contains invalid characters. Please provide a valid string to autocomplete';

type Operator =
  | '$eq'
  | '$ne'
  | '$in'
  | '$nin'
  | '$gt'
  | '$gte'
  | '$lt'
  | '$lte'
  | '$exists'
  | '$autocomplete'
  | '$contains';

const KNOWN_OPERATORS: ReadonlySet<string> = new Set<Operator>([
  '$eq',
  '$ne',
  '$in',
  '$nin',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$exists',
  '$autocomplete',
  '$contains',
]);

type ComparisonOperator = '$gt' | '$gte' | '$lt' | '$lte';
/** SQL text for the range operators; constants, never user input. */
const COMPARISON_SQL: Record<ComparisonOperator, RawBuilder<unknown>> = {
  $gt: sql.raw('>'),
  $gte: sql.raw('>='),
  $lt: sql.raw('<'),
  $lte: sql.raw('<='),
};

const operators = (list: string): ReadonlySet<Operator> => new Set(list.split(' ') as Operator[]);

type BuiltinColumn =
  | 'id'
  | 'name'
  | 'role'
  | 'language'
  | 'teams'
  | 'banned'
  | 'shadow_banned'
  | 'bypass_moderation'
  | 'created_at'
  | 'updated_at'
  | 'last_active';

/** How a filterable field is stored, which decides both the allowed operators and the SQL. */
type FieldSpec =
  | { kind: 'text'; column: BuiltinColumn; nullable: boolean; operators: ReadonlySet<Operator> }
  | { kind: 'teams'; operators: ReadonlySet<Operator> }
  | { kind: 'boolean'; column: BuiltinColumn; operators: ReadonlySet<Operator> }
  | { kind: 'timestamp'; column: BuiltinColumn; nullable: boolean; operators: ReadonlySet<Operator> }
  // username and email live in `custom` but Stream restricts them to string values and a few operators
  | { kind: 'custom'; stringOnly: boolean; operators: ReadonlySet<Operator> };

// A Map (not an object literal) so that names like "constructor" or "__proto__" cannot hit prototype properties.
const FIELD_SPECS: ReadonlyMap<string, FieldSpec> = new Map<string, FieldSpec>([
  ['id', { kind: 'text', column: 'id', nullable: false, operators: operators('$eq $ne $in $nin $gt $gte $lt $lte $exists $autocomplete') }],
  ['name', { kind: 'text', column: 'name', nullable: true, operators: operators('$eq $in $gt $gte $lt $lte $exists $autocomplete') }],
  ['role', { kind: 'text', column: 'role', nullable: false, operators: operators('$eq $in $gt $gte $lt $lte $exists') }],
  ['language', { kind: 'text', column: 'language', nullable: false, operators: operators('$eq') }],
  ['teams', { kind: 'teams', operators: operators('$eq $in $contains') }],
  ['banned', { kind: 'boolean', column: 'banned', operators: operators('$eq $ne') }],
  ['shadow_banned', { kind: 'boolean', column: 'shadow_banned', operators: operators('$eq $ne') }],
  ['bypass_moderation', { kind: 'boolean', column: 'bypass_moderation', operators: operators('$eq $ne') }],
  ['created_at', { kind: 'timestamp', column: 'created_at', nullable: false, operators: operators('$eq $in $gt $gte $lt $lte $exists') }],
  ['updated_at', { kind: 'timestamp', column: 'updated_at', nullable: false, operators: operators('$eq $in $gt $gte $lt $lte $exists') }],
  ['last_active', { kind: 'timestamp', column: 'last_active', nullable: true, operators: operators('$eq $in $gt $gte $lt $lte $exists') }],
  ['username', { kind: 'custom', stringOnly: true, operators: operators('$eq $autocomplete') }],
  ['email', { kind: 'custom', stringOnly: true, operators: operators('$eq $in') }],
]);

// $ne and $nin are not in Stream's list for custom fields; accepted for leniency.
const CUSTOM_FIELD_SPEC: FieldSpec = {
  kind: 'custom',
  stringOnly: false,
  operators: operators('$eq $ne $in $nin $gt $gte $lt $lte $exists $contains'),
};

const TRUE = sql<boolean>`TRUE`;
const FALSE = sql<boolean>`FALSE`;

type Condition = RawBuilder<boolean>;

/** Budgets shared by one compileFilter call, and the limits they are held to. */
interface CompileState {
  conditions: number;
  values: number;
  limits: InputLimits;
  /** false: name $autocomplete is written so that users_name_words_idx cannot serve it (see CompileOptions). */
  nameWordIndex: boolean;
}

export interface CompileOptions {
  /**
   * Whether name $autocomplete may be served by users_name_words_idx (the default). false keeps the planner off the
   * word index, for the query plan that walks the default order and tests each name (see query.ts): PostgreSQL
   * estimates every word prefix at 2% of the rows unless the words have 100 or more common ones, so it cannot tell a
   * common prefix from a rare one itself.
   */
  nameWordIndex?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Filter
// ---------------------------------------------------------------------------------------------------------------

/**
 * Compiles Stream filter_conditions into a boolean SQL expression over table `users` (unqualified columns).
 * Throws StreamError (code 4) on any invalid input, before any SQL runs. `undefined`/`null` are treated as `{}`
 * (match everything), like an absent payload.
 */
export function compileFilter(filter: unknown, limits: InputLimits = DEFAULT_LIMITS, options: CompileOptions = {}): RawBuilder<boolean> {
  if (filter === undefined || filter === null) return TRUE;
  if (!isPlainObject(filter)) throw inputError('filter_conditions must be an object');
  checkFilterStrings(filter, limits);
  return compileObject(filter, 0, { conditions: 0, values: 0, limits, nameWordIndex: options.nameWordIndex ?? true });
}

/** Every string in a filter, field names included, is held to the filter string limit before anything is compiled. */
function checkFilterStrings(filter: Record<string, unknown>, limits: InputLimits) {
  const max = limits.filterString;
  const tooLong = (text: string) => inputError(`a string of ${text.length} characters in filter_conditions is over the filter string limit of ${max}`);
  const stack: unknown[] = [filter];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (item.length > max) throw tooLong(item);
    } else if (Array.isArray(item)) {
      stack.push(...item);
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, value] of Object.entries(item)) {
        if (key.length > max) throw tooLong(key);
        stack.push(value);
      }
    }
  }
}

/** One filter object: its keys (fields and logical operators) are ANDed. */
function compileObject(filter: Record<string, unknown>, depth: number, state: CompileState): Condition {
  if (depth > MAX_DEPTH) throw inputError(`filter_conditions is nested too deeply (at most ${MAX_DEPTH} levels)`);
  const parts: Condition[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      parts.push(compileLogical(key, value, depth, state));
    } else if (key.startsWith('$')) {
      throw inputError(`unknown logical operator ${key}: only $and, $or and $nor may be used in place of a field`);
    } else {
      parts.push(compileField(key, value, state));
    }
  }
  return and(parts);
}

function compileLogical(operator: '$and' | '$or' | '$nor', value: unknown, depth: number, state: CompileState): Condition {
  if (!Array.isArray(value)) throw inputError(`${operator} must be an array of filter objects`);
  // Stream's types ask for two or more $or clauses; one is harmless and accepted.
  if (value.length === 0 && operator !== '$nor') throw inputError(`${operator} needs at least one filter object`);
  const clauses = value.map((clause) => {
    if (!isPlainObject(clause)) throw inputError(`${operator} must be an array of filter objects`);
    return compileObject(clause, depth + 1, state);
  });
  if (operator === '$and') return and(clauses);
  if (operator === '$or') return or(clauses);
  if (clauses.length === 0) return TRUE; // none of nothing matches
  // IS NOT TRUE rather than NOT: a clause may be NULL (e.g. `name > 'x'` when name is NULL), and the user
  // did match "none of these", so NULL must count as not matched.
  return sql<boolean>`(${or(clauses)}) IS NOT TRUE`;
}

function compileField(field: string, value: unknown, state: CompileState): Condition {
  if (field === '') throw inputError('filter field names must not be empty');
  const spec = FIELD_SPECS.get(field) ?? CUSTOM_FIELD_SPEC;
  const parts: Condition[] = [];
  for (const [operator, operand] of operatorsOf(field, value)) {
    if (operator === '$q') throw inputError(`search is not enabled for field users.${field}`);
    if (!KNOWN_OPERATORS.has(operator)) throw inputError(`unknown operator ${operator}`);
    if (!spec.operators.has(operator as Operator)) {
      throw inputError(`operator ${operator} is not allowed for field ${field}`);
    }
    state.conditions += 1;
    if (state.conditions > MAX_CONDITIONS) {
      throw inputError(`filter_conditions has too many conditions (at most ${MAX_CONDITIONS})`);
    }
    state.values += Array.isArray(operand) ? operand.length : 1;
    if (state.values > MAX_TOTAL_VALUES) {
      throw inputError(`filter_conditions has too many values (at most ${MAX_TOTAL_VALUES})`);
    }
    parts.push(compileCondition(field, spec, operator as Operator, operand, state));
  }
  return and(parts);
}

/**
 * A field's value is either an operator object (`{"$gt": 1, "$lt": 5}`, ANDed) or a bare value meaning $eq. An
 * object without `$` keys is a bare value too (equality with a JSON object, for custom fields).
 */
function operatorsOf(field: string, value: unknown): Array<[string, unknown]> {
  if (!isPlainObject(value)) return [['$eq', value]];
  const entries = Object.entries(value);
  const operatorCount = entries.filter(([key]) => key.startsWith('$')).length;
  if (operatorCount === 0) return [['$eq', value]];
  if (operatorCount !== entries.length) {
    throw inputError(`the value of field ${field} mixes operators and plain keys`);
  }
  return entries;
}

function compileCondition(field: string, spec: FieldSpec, operator: Operator, value: unknown, state: CompileState): Condition {
  const { limits } = state;
  switch (spec.kind) {
    case 'text':
      return textCondition(field, spec.column, spec.nullable, operator, value, limits, state.nameWordIndex);
    case 'teams':
      return teamsCondition(operator, value);
    case 'boolean':
      return booleanCondition(field, spec.column, operator, value);
    case 'timestamp':
      return timestampCondition(field, spec.column, spec.nullable, operator, value);
    case 'custom':
      return customCondition(field, spec.stringOnly, operator, value, limits);
  }
}

// --- built-in text columns: id, name, role, language --------------------------------------------------------------

function textCondition(
  field: string,
  column: BuiltinColumn,
  nullable: boolean,
  operator: Operator,
  value: unknown,
  limits: InputLimits,
  nameWordIndex: boolean,
): Condition {
  const col = sql.ref(column);
  switch (operator) {
    case '$eq':
      return nullableEquals(col, nullable, value) ?? sql<boolean>`${col} = ${requireString(field, operator, value)}`;
    case '$ne':
      return sql<boolean>`${col} <> ${requireString(field, operator, value)}`;
    case '$in':
    case '$nin': {
      const items = requireList(field, operator, value).map((item) => requireString(field, operator, item));
      const list = sql.join(items.map((item) => sql`${item}`));
      return operator === '$in' ? sql<boolean>`${col} IN (${list})` : sql<boolean>`${col} NOT IN (${list})`;
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return sql<boolean>`${col} ${COMPARISON_SQL[operator]} ${requireString(field, operator, value)}`;
    case '$exists':
      return existsColumn(col, nullable, requireBoolean(field, operator, value));
    case '$autocomplete': {
      // Case-insensitive, as on name; the expression is users_id_lower_idx's, for the planner to use it.
      if (column === 'id') return sql<boolean>`lower(id) LIKE ${likePrefixPattern(value, limits).toLowerCase()}`;
      // Must stay textually identical to users_name_words_idx for the planner to use it.
      if (nameWordIndex) return sql<boolean>`to_tsvector('simple', coalesce(name, '')) @@ to_tsquery('simple', ${prefixTsQuery(value, limits)})`;
      // The same value (`|| ''` changes no text), in an expression no index has.
      return sql<boolean>`to_tsvector('simple', coalesce(name, '') || '') @@ to_tsquery('simple', ${prefixTsQuery(value, limits)})`;
    }
    default:
      throw notAllowed(operator, field);
  }
}

// --- teams (text[]) -------------------------------------------------------------------------------------------------

function teamsCondition(operator: Operator, value: unknown): Condition {
  switch (operator) {
    case '$eq':
    case '$contains':
      // Stream: `teams: null` selects users that belong to no team.
      if (value === null && operator === '$eq') return sql<boolean>`teams = '{}'`;
      return sql<boolean>`teams @> ARRAY[${requireTeam(operator, value)}]::text[]`;
    case '$in': {
      const items = requireList('teams', operator, value);
      const teams = items.filter((item) => item !== null).map((item) => requireTeam(operator, item));
      const parts: Condition[] = [];
      if (teams.length > 0) parts.push(sql<boolean>`teams && ARRAY[${sql.join(teams.map((team) => sql`${team}`))}]::text[]`);
      if (teams.length < items.length) parts.push(sql<boolean>`teams = '{}'`); // null in the list: no team
      return or(parts);
    }
    default:
      throw notAllowed(operator, 'teams');
  }
}

function requireTeam(operator: Operator, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw inputError(`${operator} on field teams needs a non-empty team name string`);
  }
  return value;
}

// --- boolean columns -------------------------------------------------------------------------------------------------

function booleanCondition(field: string, column: BuiltinColumn, operator: Operator, value: unknown): Condition {
  const flag = requireBoolean(field, operator, value);
  if (operator === '$eq') return sql<boolean>`${sql.ref(column)} = ${flag}`;
  if (operator === '$ne') return sql<boolean>`${sql.ref(column)} <> ${flag}`;
  throw notAllowed(operator, field);
}

// --- timestamptz columns ---------------------------------------------------------------------------------------------

function timestampCondition(field: string, column: BuiltinColumn, nullable: boolean, operator: Operator, value: unknown): Condition {
  const col = sql.ref(column);
  switch (operator) {
    case '$eq':
      return nullableEquals(col, nullable, value) ?? sql<boolean>`${col} = ${requireTimestamp(field, operator, value)}::timestamptz`;
    case '$in': {
      const items = requireList(field, operator, value).map((item) => requireTimestamp(field, operator, item));
      return sql<boolean>`${col} IN (${sql.join(items.map((item) => sql`${item}::timestamptz`))})`;
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return sql<boolean>`${col} ${COMPARISON_SQL[operator]} ${requireTimestamp(field, operator, value)}::timestamptz`;
    case '$exists':
      return existsColumn(col, nullable, requireBoolean(field, operator, value));
    default:
      throw notAllowed(operator, field);
  }
}

function requireTimestamp(field: string, operator: Operator, value: unknown): string {
  const text = requestTimeToSql(value);
  if (text === undefined) throw inputError(`${operator} on field ${field} needs an RFC3339 date-time string`);
  return text;
}

/** `{field: null}` on a nullable column: the field is unset. Undefined for any other value. */
function nullableEquals(col: RawBuilder<unknown>, nullable: boolean, value: unknown): Condition | undefined {
  return value === null && nullable ? sql<boolean>`${col} IS NULL` : undefined;
}

/** $exists on a typed column: columns declared NOT NULL always exist. */
function existsColumn(col: RawBuilder<unknown>, nullable: boolean, exists: boolean): Condition {
  if (!nullable) return exists ? TRUE : FALSE;
  return exists ? sql<boolean>`${col} IS NOT NULL` : sql<boolean>`${col} IS NULL`;
}

// --- custom fields (jsonb column `custom`) ---------------------------------------------------------------------------

function customCondition(field: string, stringOnly: boolean, operator: Operator, value: unknown, limits: InputLimits): Condition {
  const path = customPath(field, limits);
  const checkValue = (item: unknown): unknown => {
    if (stringOnly) return requireString(field, operator, item);
    return requireJson(field, operator, item);
  };
  switch (operator) {
    case '$eq':
      return customEquals(path, checkValue(value));
    case '$ne':
      return not(customEquals(path, checkValue(value)));
    case '$in':
    case '$nin': {
      const matches = or(requireList(field, operator, value).map((item) => customEquals(path, checkValue(item))));
      return operator === '$in' ? matches : not(matches);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      const bound = requireJson(field, operator, value);
      const jsonType = comparableJsonType(bound);
      if (jsonType === undefined) {
        throw inputError(`${operator} on field ${field} needs a number, string or boolean`);
      }
      const target = jsonPathExpression(path);
      // jsonb orders values of different types by type first; the guard keeps "10" out of a numeric range.
      return sql<boolean>`(jsonb_typeof(${target}) = ${sql.raw(`'${jsonType}'`)} AND ${target} ${COMPARISON_SQL[operator]} ${JSON.stringify(bound)}::jsonb)`;
    }
    case '$exists': {
      const exists = requireBoolean(field, operator, value);
      const [key] = path;
      if (path.length === 1 && key !== undefined) {
        return exists ? sql<boolean>`custom ? ${key}` : sql<boolean>`NOT (custom ? ${key})`;
      }
      const target = jsonPathExpression(path);
      return exists ? sql<boolean>`${target} IS NOT NULL` : sql<boolean>`${target} IS NULL`;
    }
    case '$contains': {
      const item = checkValue(value);
      // The field is an array holding the value; an array operand means "holds all of these".
      const wanted = Array.isArray(item) ? item : [item];
      return sql<boolean>`custom @> ${JSON.stringify(nestUnderPath(path, wanted))}::jsonb`;
    }
    case '$autocomplete':
      if (field !== 'username') throw notAllowed(operator, field);
      // Must stay textually identical to users_username_words_idx for the planner to use it.
      return sql<boolean>`to_tsvector('simple', coalesce(custom ->> 'username', '')) @@ to_tsquery('simple', ${prefixTsQuery(value, limits)})`;
  }
}

/**
 * Equality on a custom field, never NULL (so that $ne/$nin can simply negate it). Scalars use containment
 * (`custom @> '{"k": v}'`), which the GIN index serves and which is exact for scalars. Containment is only a
 * superset test for arrays and objects, so those also compare the value itself. `null` matches an explicit
 * null or a missing key, as in MongoDB.
 */
function customEquals(path: string[], value: unknown): Condition {
  if (value === null) {
    return sql<boolean>`coalesce(${jsonPathExpression(path)}, 'null'::jsonb) = 'null'::jsonb`;
  }
  const contains = sql<boolean>`custom @> ${JSON.stringify(nestUnderPath(path, value))}::jsonb`;
  if (typeof value !== 'object') return contains;
  // The containment is false when the key is missing, so the AND is never NULL.
  return sql<boolean>`(${contains} AND ${jsonPathExpression(path)} = ${JSON.stringify(value)}::jsonb)`;
}

/** `a.b.c` addresses nested keys of `custom`. */
function customPath(field: string, limits: InputLimits): string[] {
  const path = field.split('.');
  if (path.some((segment) => segment === '')) throw inputError(`invalid field name ${field}`);
  if (path.length > limits.keySegments) {
    throw inputError(`field ${field} has ${path.length} segments: the key segments limit is ${limits.keySegments}`);
  }
  return path;
}

/** The jsonb value at a custom path (SQL NULL when missing); each key is a bind parameter. */
function jsonPathExpression(path: string[]): RawBuilder<unknown> {
  const [key] = path;
  if (path.length === 1 && key !== undefined) return sql`(custom -> ${key})`;
  return sql`(custom #> ARRAY[${sql.join(path.map((segment) => sql`${segment}`))}]::text[])`;
}

/** Same, as text (for sorting). */
function textPathExpression(path: string[]): RawBuilder<unknown> {
  const [key] = path;
  if (path.length === 1 && key !== undefined) return sql`(custom ->> ${key})`;
  return sql`(custom #>> ARRAY[${sql.join(path.map((segment) => sql`${segment}`))}]::text[])`;
}

/** `['a', 'b'], v` → `{"a": {"b": v}}`, the document shape a containment test needs. */
function nestUnderPath(path: string[], value: unknown): unknown {
  // Computed keys define own properties, so even a "__proto__" segment ends up in the JSON.
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
}

function comparableJsonType(value: unknown): 'number' | 'string' | 'boolean' | undefined {
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return undefined;
}

// --- $autocomplete ---------------------------------------------------------------------------------------------------

/**
 * `"Curiosity Ro"` → `curiosity:* & ro:*`: every word of the input must start a word of the target. Words are
 * runs of letters and digits, so the query never contains tsquery syntax.
 */
function prefixTsQuery(value: unknown, limits: InputLimits): string {
  return autocompleteWords(value, limits)
    .map((word) => `${word}:*`)
    .join(' & ');
}

/** The words of an $autocomplete value, lower-cased, as its prefix tsquery has them. */
function autocompleteWords(value: unknown, limits: InputLimits): string[] {
  if (typeof value !== 'string') throw inputError(AUTOCOMPLETE_INVALID);
  const words = value
    .normalize('NFC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '');
  if (words.length === 0) throw inputError(AUTOCOMPLETE_INVALID);
  checkAutocompleteWords(words, limits);
  return words;
}

/**
 * The prefix words of a filter that is exactly `{name: {$autocomplete: "..."}}` (the shape of a user picker), undefined
 * for any other filter. The query uses them to choose its plan (see query.ts); the filter is compiled as usual.
 */
export function soleNameAutocompleteWords(filter: unknown, limits: InputLimits = DEFAULT_LIMITS): string[] | undefined {
  if (!isPlainObject(filter)) return undefined;
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== 'name') return undefined;
  const condition = filter.name;
  if (!isPlainObject(condition)) return undefined;
  const operators = Object.keys(condition);
  if (operators.length !== 1 || operators[0] !== '$autocomplete') return undefined;
  try {
    return autocompleteWords(condition.$autocomplete, limits);
  } catch {
    return undefined; // invalid: compileFilter reports it, as for any other filter
  }
}

function checkAutocompleteWords(words: string[], limits: InputLimits) {
  if (words.length > limits.autocompleteWords) {
    throw inputError(`$autocomplete has ${words.length} words: the autocomplete words limit is ${limits.autocompleteWords}`);
  }
  const long = words.find((word) => word.length > limits.autocompleteWordLength);
  if (long) {
    throw inputError(`$autocomplete has a word of ${long.length} characters: the autocomplete word length limit is ${limits.autocompleteWordLength}`);
  }
}

/** A LIKE pattern matching ids that start with the value; LIKE's own metacharacters are escaped. */
function likePrefixPattern(value: unknown, limits: InputLimits): string {
  if (typeof value !== 'string' || !/[\p{L}\p{N}]/u.test(value)) throw inputError(AUTOCOMPLETE_INVALID);
  checkAutocompleteWords([value], limits);
  return `${value.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

// --- value checks ----------------------------------------------------------------------------------------------------

function requireString(field: string, operator: Operator, value: unknown): string {
  if (typeof value !== 'string') throw inputError(`${operator} on field ${field} needs a string value`);
  return value;
}

function requireBoolean(field: string, operator: Operator, value: unknown): boolean {
  if (typeof value !== 'boolean') throw inputError(`${operator} on field ${field} needs a boolean value`);
  return value;
}

function requireList(field: string, operator: Operator, value: unknown): unknown[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw inputError(`${operator} on field ${field} needs a non-empty array`);
  }
  if (value.length > MAX_LIST_ITEMS) {
    throw inputError(`${operator} on field ${field} accepts at most ${MAX_LIST_ITEMS} values`);
  }
  return value;
}

/**
 * Custom-field operands become jsonb text, so they must be plain JSON (they are, when parsed from a request). An
 * object operand is a value, compared whole: a `$` key inside it is an operator where none can stand.
 */
function requireJson(field: string, operator: Operator, value: unknown): unknown {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === null || typeof item === 'string' || typeof item === 'boolean') continue;
    if (typeof item === 'number' && Number.isFinite(item)) continue;
    if (Array.isArray(item)) {
      stack.push(...item);
    } else if (isPlainObject(item)) {
      for (const [key, child] of Object.entries(item)) {
        if (key.startsWith('$')) throw inputError(`unknown operator ${key} in the value of field ${field}`);
        stack.push(child);
      }
    } else {
      throw inputError(`${operator} on field ${field} needs a JSON value`);
    }
  }
  return value;
}

function notAllowed(operator: string, field: string) {
  return inputError(`operator ${operator} is not allowed for field ${field}`);
}

// --- boolean combinators (each result is parenthesised, so callers can embed it anywhere) ---------------------------

function and(parts: Condition[]): Condition {
  if (parts.length === 0) return TRUE;
  if (parts.length === 1) return parts[0]!;
  return sql<boolean>`(${sql.join(parts, sql` AND `)})`;
}

function or(parts: Condition[]): Condition {
  if (parts.length === 0) return FALSE;
  if (parts.length === 1) return parts[0]!;
  return sql<boolean>`(${sql.join(parts, sql` OR `)})`;
}

function not(part: Condition): Condition {
  return sql<boolean>`NOT (${part})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Sort
// ---------------------------------------------------------------------------------------------------------------

/** Built-in sortable columns and whether they can be NULL. */
const SORT_COLUMNS: ReadonlyMap<string, { nullable: boolean }> = new Map([
  ['id', { nullable: false }],
  ['name', { nullable: true }],
  ['role', { nullable: false }],
  ['language', { nullable: false }],
  ['created_at', { nullable: false }],
  ['updated_at', { nullable: false }],
  ['last_active', { nullable: true }],
  ['banned', { nullable: false }],
  ['shadow_banned', { nullable: false }],
]);

/**
 * Compiles Stream's sort array (max 5 entries) into ORDER BY items (without the ORDER BY keyword), comma-joined,
 * always ending with a unique tie-break on id. Default (undefined or []) = created_at DESC, id DESC.
 */
export function compileSort(sort: unknown, limits: InputLimits = DEFAULT_LIMITS): RawBuilder<unknown> {
  if (sort === undefined || sort === null || (Array.isArray(sort) && sort.length === 0)) {
    return sql`created_at DESC, id DESC`;
  }
  if (!Array.isArray(sort)) throw inputError('sort must be an array of {field, direction} objects');
  if (sort.length > MAX_SORT_ENTRIES) throw inputError(`sort accepts at most ${MAX_SORT_ENTRIES} fields`);

  const items: RawBuilder<unknown>[] = [];
  let sortsById = false;
  let lastDirection = sql.raw('ASC');
  for (const raw of sort) {
    const entry = parseSortEntry(raw);
    const direction = sql.raw(entry.direction === -1 ? 'DESC' : 'ASC');
    lastDirection = direction;
    const column = SORT_COLUMNS.get(entry.field);
    if (column) {
      if (entry.field === 'id') sortsById = true;
      // NOT NULL columns get a plain ASC/DESC so that ORDER BY matches index order (e.g. created_at, id).
      items.push(
        column.nullable
          ? sql`${sql.ref(entry.field)} ${direction} NULLS LAST`
          : sql`${sql.ref(entry.field)} ${direction}`,
      );
    } else {
      items.push(sql`${customSortExpression(entry, limits)} ${direction} NULLS LAST`);
    }
  }
  // Offset pagination needs a total order; id is unique.
  if (!sortsById) items.push(sql`id ${lastDirection}`);
  return sql.join(items);
}

function parseSortEntry(raw: unknown): Required<SortEntry> {
  if (!isPlainObject(raw)) throw inputError('sort must be an array of {field, direction} objects');
  const { field, direction, type } = raw;
  if (typeof field !== 'string' || field === '') throw inputError('sort field must be a non-empty string');
  // null is accepted as "not given": some clients serialise absent optional fields that way.
  if (direction !== undefined && direction !== null && direction !== 1 && direction !== -1) {
    throw inputError(`sort direction for field ${field} must be 1 or -1`);
  }
  if (type !== undefined && type !== null && type !== '' && type !== 'number' && type !== 'boolean') {
    throw inputError(`sort type for field ${field} must be "", "number" or "boolean"`);
  }
  return { field, direction: direction === -1 ? -1 : 1, type: typeof type === 'string' ? type : '' };
}

/** Custom fields sort as text by default; `type` sorts values of that JSON type, others last. */
function customSortExpression(entry: Required<SortEntry>, limits: InputLimits): RawBuilder<unknown> {
  if (entry.field.length > limits.filterString) {
    throw inputError(`a sort field of ${entry.field.length} characters is over the filter string limit of ${limits.filterString}`);
  }
  const path = customPath(entry.field, limits);
  if (entry.type === 'number') {
    return sql`(CASE WHEN jsonb_typeof(${jsonPathExpression(path)}) = 'number' THEN ${textPathExpression(path)}::numeric END)`;
  }
  if (entry.type === 'boolean') {
    return sql`(CASE WHEN jsonb_typeof(${jsonPathExpression(path)}) = 'boolean' THEN ${textPathExpression(path)}::boolean END)`;
  }
  return textPathExpression(path);
}
