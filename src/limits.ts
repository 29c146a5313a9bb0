// Bounds on what a request may ask, checked before any SQL is built: a request over one is refused with code 4 and a
// message naming the limit. The embedded database runs in this process and cannot interrupt a statement, so these
// bounds are what keep one request from exhausting it (README "Limits").
import { inputError } from './http/errors.js';

/** Users in one upsert, partial update, bulk lifecycle call (deactivate, reactivate, delete, restore). */
export const MAX_USERS_PER_REQUEST = 100;
/** Users in one ExportUsers call. */
export const MAX_USERS_PER_EXPORT = 25;
/** Teams of one user, and the length of a team's name. */
export const MAX_TEAMS_PER_USER = 250;
export const MAX_TEAM_NAME_LENGTH = 100;

export interface InputLimits {
  /** Keys in one partial update's `set`, and in its `unset`. */
  setKeys: number;
  /** Segments of a dotted key (`a.b.c`), in partial updates and filter field names. */
  keySegments: number;
  /** Nesting depth of custom data: `{}` is 1, `{"a": {}}` is 2. */
  customDepth: number;
  /** Words of one `$autocomplete` value, and characters per word. */
  autocompleteWords: number;
  autocompleteWordLength: number;
  /** Characters of any string in a filter (values and field names). */
  filterString: number;
  /**
   * The planned cost (PostgreSQL's cost units) above which a user token's queryUsers is refused (README "Limits"):
   * Stream lets clients filter and sort on custom fields, which no index serves, so the cost is what is bounded.
   */
  clientQueryCost: number;
}

export const DEFAULT_LIMITS: InputLimits = {
  setKeys: 100,
  keySegments: 10,
  customDepth: 32,
  autocompleteWords: 20,
  autocompleteWordLength: 64,
  filterString: 1024,
  clientQueryCost: 5_000,
};

/** How deep any JSON a request carries may nest: custom data at its limit inside the request's own wrappers. */
export function maxJsonDepth(limits: InputLimits): number {
  return limits.customDepth + 8;
}

/** Nesting depth of a JSON value (a scalar is 0, `{}` and `[]` are 1), measured without recursion. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push([child, here]);
    }
  }
  return deepest;
}

/** Refuses a value nested deeper than `max`; `what` names it in the message. */
export function checkDepth(value: unknown, max: number, what: string, limitName = 'custom data nesting depth') {
  const depth = jsonDepth(value);
  if (depth > max) throw inputError(`${what} is nested ${depth} levels deep: the ${limitName} limit is ${max}`);
}

/** JSON text from a request, parsed and held to the nesting limit (deeply nested text would exhaust the stack later). */
export function parseRequestJson(text: string, limits: InputLimits, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw inputError(`${what} is not valid JSON`);
  }
  checkDepth(value, maxJsonDepth(limits), what, 'JSON nesting depth');
  return value;
}
