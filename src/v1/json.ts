// JSON text read exactly: integers too long for a JS number (the nanosecond date-times of stored task results)
// become BigInts instead of being rounded. Node 20's JSON.parse offers no access to a number's source text, so long
// integer literals outside strings are marked before parsing.
const MARK = '\u0000bigint:';
const SAFE_DIGITS = 15;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

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
