// PostgreSQL timestamptz values travel as microseconds since the epoch (bigint), exactly, so that v2 responses can
// carry integer nanoseconds and v1 responses RFC3339 strings with microseconds, without passing through a float.
import type { Micros } from './schema.js';

const PG_TIMESTAMPTZ = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?|Z)?$/;

/**
 * The last two texts parsed and their values. A statement's rows mostly share their timestamps: every row an upsert
 * writes gets the transaction's now() as updated_at, and the users of one batch share their created_at, so rows read
 * back by the hundred alternate between two texts, which were parsed by the hundred (about a twentieth of an upsert's
 * CPU in the server, measured in a profile).
 */
let lastText = '';
let lastMicros: Micros = 0n;
let previousText = '';
let previousMicros: Micros = 0n;

/** Parses PostgreSQL's text output of a timestamptz ("2026-11-26 19:31:41.123456+00") into microseconds. */
export function parsePgTimestamp(text: string): Micros {
  if (text === lastText) return lastMicros;
  if (text === previousText) return previousMicros;
  const micros = parseUtcTimestamp(text) ?? parseAnyTimestamp(text);
  previousText = lastText;
  previousMicros = lastMicros;
  lastText = text;
  lastMicros = micros;
  return micros;
}

/** The digits text[from, to) as a number; -1 unless all of them are ASCII digits. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The common case, without a regular expression or BigInt arithmetic (rows are decoded by the hundred): what the
 * server's connections (TimeZone=UTC) print, "YYYY-MM-DD HH:MM:SS[.f{1,6}]+00", for years 1000–9999. Undefined for
 * anything else, which parseAnyTimestamp reads; both give the same value.
 */
function parseUtcTimestamp(text: string): Micros | undefined {
  const n = text.length;
  if (n < 22 || n > 29 || text[n - 3] !== '+' || text[n - 2] !== '0' || text[n - 1] !== '0') return undefined;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== ' ' || text[13] !== ':' || text[16] !== ':') return undefined;
  const y = digits(text, 0, 4);
  const mo = digits(text, 5, 7);
  const d = digits(text, 8, 10);
  const h = digits(text, 11, 13);
  const mi = digits(text, 14, 16);
  const s = digits(text, 17, 19);
  if (y < 1000 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return undefined;
  let fraction = 0;
  if (n > 22) {
    if (text[19] !== '.' || n === 23) return undefined;
    fraction = digits(text, 20, n - 3);
    if (fraction < 0) return undefined;
    for (let i = n - 3; i < 26; i++) fraction *= 10; // to microseconds
  }
  const micros = Date.UTC(y, mo - 1, d, h, mi, s) * 1000 + fraction;
  return Number.isSafeInteger(micros) ? BigInt(micros) : undefined;
}

/** Any timestamptz text PostgreSQL prints (any offset, fewer or more year digits). Exported for tests. */
export function parseAnyTimestamp(text: string): Micros {
  const m = PG_TIMESTAMPTZ.exec(text);
  if (!m) throw new Error(`unexpected timestamptz text: ${text}`);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os] = m;
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  let micros = BigInt(seconds) * 1_000_000n + BigInt((frac ?? '').padEnd(6, '0') || '0');
  if (sign) {
    const offsetSeconds = Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0);
    micros -= BigInt(sign === '-' ? -offsetSeconds : offsetSeconds) * 1_000_000n;
  }
  return micros;
}

/** RFC3339 with microseconds, e.g. 2020-03-30T07:54:46.207332Z (the v1 wire format). */
export function microsToRfc3339(micros: Micros): string {
  const sub = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  // Whole seconds rounded down (not toward zero), so that an instant before 1970 keeps its second.
  const seconds = (micros - sub) / 1_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString(); // 2020-03-30T07:54:46.000Z
  return `${iso.slice(0, 19)}.${sub.toString().padStart(6, '0')}Z`;
}

export function microsToNanos(micros: Micros): bigint {
  return micros * 1000n;
}

export function nowMicros(): Micros {
  return BigInt(Date.now()) * 1000n;
}

/** JavaScript's Date range, ±8.64e15 ms around the epoch, in microseconds. */
const MAX_DATE_MICROS = 8_640_000_000_000_000_000n;

const RFC3339 = /^\d{4}-\d\d-\d\d(?:[Tt ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[Zz]|[+-]\d\d:?\d\d)?)?$/;

/**
 * Reads a date-time from a request: an RFC3339 string (what the SDKs send), or defensively an integer of
 * nanoseconds (what v2 responses carry). Returns text PostgreSQL parses as timestamptz, or undefined when invalid.
 */
export function requestTimeToSql(value: unknown): string | undefined {
  if (typeof value === 'string') {
    if (!RFC3339.test(value)) return undefined;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return undefined;
    // JavaScript rolls 2024-02-31 over into March; PostgreSQL rejects it. Refuse days the month does not have.
    const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
    if (day > new Date(Date.UTC(year, month, 0)).getUTCDate() || month < 1 || month > 12 || day < 1) return undefined;
    // Keep sub-millisecond digits: hand PostgreSQL the string itself (normalised to have a zone).
    return /[Zz]|[+-]\d\d:?\d\d$/.test(value) || value.length === 10 ? value : `${value}Z`;
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Nanoseconds, microseconds or milliseconds since the epoch, told apart by magnitude.
    const abs = Math.abs(value);
    const micros =
      abs > 1e17 ? BigInt(Math.trunc(value / 1000)) : abs > 1e14 ? BigInt(Math.trunc(value)) : BigInt(Math.trunc(value)) * 1000n;
    // Beyond what a Date (and so microsToRfc3339) can represent: not a date-time.
    if (micros > MAX_DATE_MICROS || micros < -MAX_DATE_MICROS) return undefined;
    return microsToRfc3339(micros);
  }
  return undefined;
}
