// JSON helpers shared by every layer: plain-object checks, deep equality, and JSON text that keeps 64-bit integers
// exact (the nanosecond date-times of v2, which a JS number would round).

/** An object as JSON.parse makes them: not an array, not null, not a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Deep equality of JSON values, object keys in any order (jsonb does not keep the order they were sent in). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameJson(item, other[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return keys.length === Object.keys(right).length && keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]));
}

const MARK = '\u0000bigint:';

/** JSON text with BigInt values written exactly as integers. */
export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${MARK}${v.toString()}` : v));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

const SAFE_DIGITS = 15;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/**
 * JSON text read exactly: integers too long for a JS number become BigInts instead of being rounded. Node 20's
 * JSON.parse offers no access to a number's source text, so long integer literals outside strings are marked first.
 */
export function parseJsonExact(text: string): unknown {
  let marked = '';
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // Skip the string, escapes included.
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '-' || isDigit(c)) {
      const digitsStart = c === '-' ? i + 1 : i;
      let j = digitsStart;
      while (isDigit(text[j])) j++;
      const next = text[j];
      const integer = next !== '.' && next !== 'e' && next !== 'E';
      if (integer && j - digitsStart > SAFE_DIGITS) {
        // The mark's NUL is written escaped: a raw control character is not allowed in a JSON string.
        marked += `${text.slice(copied, i)}"\\u0000bigint:${text.slice(i, j)}"`;
        copied = j;
      }
      while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
      i = j;
      continue;
    }
    i++;
  }
  marked += text.slice(copied);
  return JSON.parse(marked, (_key, value) =>
    typeof value === 'string' && value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value,
  );
}
