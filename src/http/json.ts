// JSON text with BigInt values written exactly as integers. Used where a response or a stored document carries
// nanosecond timestamps outside a typed response schema (task results).
const MARK = '\u0000bigint:';

export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${MARK}${v.toString()}` : v));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}
