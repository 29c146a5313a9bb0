// HTML built by one tagged template that escapes every interpolated value, so that nothing a user wrote (a name, a
// custom field, an error message quoting input) can become markup. Only values that are already SafeHtml (made by
// this template, or by `trusted` for constant text) are inserted as they are.

/** Markup that is safe to insert as is: made by `html`, or by `trusted` from text the source code holds. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text as HTML text or as a (quoted) attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (char) => ESCAPES[char]!);
}

/** A value as markup: SafeHtml as is, lists item by item, nothing for null, undefined and false, else escaped text. */
function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** The template: `html\`<p title="${title}">${text}</p>\`` escapes `title` and `text`. Attribute values must be quoted. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Constant markup written in the source (never anything from a request or the database). */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** A path segment of a dashboard link. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

/** A query string from its parameters, leaving out empty ones ('' or undefined). */
export function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
