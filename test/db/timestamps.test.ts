// parsePgTimestamp's fast path (UTC text from the server's connections) against the general parser.
// backend-independent: parsing, no database.
import { describe, expect, it } from 'vitest';
import { parseAnyTimestamp, parsePgTimestamp } from '../../src/db/timestamps.js';

describe('parsePgTimestamp', () => {
  it('reads UTC text exactly as the general parser does', () => {
    const samples = [
      '2026-11-26 19:31:41.123456+00',
      '2026-11-26 19:31:41.12345+00',
      '2026-11-26 19:31:41.1+00',
      '2026-11-26 19:31:41+00',
      '1970-01-01 00:00:00+00',
      '1969-12-31 23:59:59.999999+00',
      '1000-01-01 00:00:00.000001+00',
      '9999-12-31 23:59:59.999999+00',
      '2024-02-29 12:00:00.5+00',
    ];
    let micros = -2_000_000_000_000_000;
    for (let i = 0; i < 2000; i++) {
      micros += 1_234_567_891_011 + i * 7;
      const iso = new Date(Math.floor(micros / 1000)).toISOString(); // 2026-11-26T19:31:41.123Z
      const sub = String(((micros % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0').replace(/0+$/, '');
      samples.push(`${iso.slice(0, 10)} ${iso.slice(11, 19)}${sub ? `.${sub}` : ''}+00`);
    }
    for (const text of samples) expect(parsePgTimestamp(text), text).toBe(parseAnyTimestamp(text));
    expect(parsePgTimestamp('2026-11-26 19:31:41.123456+00')).toBe(BigInt(Date.UTC(2026, 10, 26, 19, 31, 41)) * 1000n + 123456n);
  });

  it('answers texts parsed just before with their own values', () => {
    const [a, b, c] = ['2026-11-26 19:31:41.123456+00', '2026-11-26 19:31:41.123457+00', '2026-11-26 20:31:41.123458+01'];
    const texts = [a, a, b, a, b, c, b, c, a, c, a, b, b, c];
    expect(texts.map(parsePgTimestamp)).toEqual(texts.map(parseAnyTimestamp));
  });

  it('leaves other text to the general parser', () => {
    expect(parsePgTimestamp('2026-11-26 20:31:41.5+01')).toBe(parsePgTimestamp('2026-11-26 19:31:41.5+00'));
    expect(parsePgTimestamp('2026-11-26T19:31:41Z')).toBe(parsePgTimestamp('2026-11-26 19:31:41+00'));
    expect(parsePgTimestamp('0900-01-01 00:00:00+00')).toBe(parseAnyTimestamp('0900-01-01 00:00:00+00'));
    expect(parsePgTimestamp('12026-01-01 00:00:00+00')).toBe(parseAnyTimestamp('12026-01-01 00:00:00+00'));
    expect(() => parsePgTimestamp('2026-11-26 19:31:41.+00')).toThrow();
    expect(() => parsePgTimestamp('not a time')).toThrow();
  });
});
