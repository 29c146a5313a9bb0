// How values look on the dashboard's pages: date-times in UTC with their exact value in <time datetime>, ages, JSON.
import type { Micros } from '../../db/schema.js';
import { microsToRfc3339 } from '../../db/timestamps.js';
import { html, type SafeHtml } from '../html.js';

/** A date-time to the second, in UTC, with its exact RFC3339 value in `datetime`; "never" when absent. */
export function time(micros: Micros | null | undefined, never = 'never'): SafeHtml {
  if (micros === null || micros === undefined) return html`<span class="muted">${never}</span>`;
  const exact = microsToRfc3339(micros);
  return html`<time datetime="${exact}">${exact.slice(0, 10)} ${exact.slice(11, 19)} UTC</time>`;
}

/** How long ago, in the largest whole unit: "12 s ago", "3 min ago", "5 h ago", "2 d ago". */
export function ago(micros: Micros, nowMs: number): string {
  const seconds = Math.max(0, Math.floor((nowMs - Number(micros / 1000n)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

const MARK = '\u0000bigint:';

/** JSON indented by two spaces, 64-bit integers (BigInt) written exactly. */
export function prettyJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${MARK}${v.toString()}` : v), 2) ?? 'null';
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}
