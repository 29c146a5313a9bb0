// What must hold for every fuzzed request, and how a violation is reported: readable, bounded, with everything
// needed to understand it (route, caller, the request, the response, what changed in the database).
import type { FuzzRequest } from './arbitraries/requests.js';

export interface Observed {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * Texts of the database's or the runtime's own errors: an error message must describe the request, never echo
 * these (they tell a caller about the server's internals and change with its versions).
 */
const INTERNAL_DETAIL: RegExp[] = [
  /invalid input syntax for/i,
  /unsupported Unicode escape sequence/i,
  /cannot be converted to text/i,
  /out of range for type/i,
  /value too long for type/i,
  /invalid byte sequence for encoding/i,
  /date\/time field value out of range/i,
  /time zone .* not recognized/i,
  /violates .*constraint/i,
  /syntax error at or near/i,
  /\b(relation|column|function|operator|type) .* does not exist/i,
  /stack depth limit exceeded/i,
  /index row (size|requires)/i,
  /\bSQLSTATE\b/,
  /\bDETAIL: /,
  /\bat character \d+/,
  /\b(TypeError|RangeError|ReferenceError|InternalError)\b/,
  /Cannot read propert/,
  /is not a function/,
  /is not iterable/,
  /Maximum call stack/,
  /\bat \S+ \(.*:\d+:\d+\)/,
  /node_modules|\.ts:\d+/,
];

/** Own keys of the built-in prototypes, to notice a request that polluted one. */
const PROTOTYPES: Array<[string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
];
const pristine = new Map(PROTOTYPES.map(([name, proto]) => [name, Reflect.ownKeys(proto).map(String).sort().join(',')]));

export function pollutedPrototypes(): string[] {
  return PROTOTYPES.filter(([name, proto]) => Reflect.ownKeys(proto).map(String).sort().join(',') !== pristine.get(name)).map(
    ([name, proto]) => `${name} has new keys: ${Reflect.ownKeys(proto).map(String).filter((k) => !pristine.get(name)!.split(',').includes(k)).join(', ')}`,
  );
}

/** The problems with a 4xx answer that is not Stream's error envelope with StatusCode = the HTTP status. */
export function envelopeProblems(response: Observed): string[] {
  const problems: string[] = [];
  const type = String(response.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) problems.push(`content-type is ${JSON.stringify(type)}, not application/json`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(response.body);
  } catch {
    return [...problems, 'the body is not JSON'];
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [...problems, 'the body is not a JSON object'];
  if (body.StatusCode !== response.status) problems.push(`StatusCode is ${JSON.stringify(body.StatusCode)}, the HTTP status ${response.status}`);
  if (typeof body.code !== 'number' || !Number.isInteger(body.code)) problems.push(`code is ${JSON.stringify(body.code)}, not an integer`);
  if (typeof body.message !== 'string') problems.push('message is not a string');
  else if (!/^\w+ failed with error: ".*"$/s.test(body.message)) problems.push('message is not "<Operation> failed with error: \\"…\\""');
  if (typeof body.duration !== 'string') problems.push('duration is not a string');
  if (typeof body.more_info !== 'string') problems.push('more_info is not a string');
  if (!Array.isArray(body.details)) problems.push('details is not an array');
  if (typeof body.message === 'string') {
    const leak = INTERNAL_DETAIL.find((pattern) => pattern.test(body.message as string));
    if (leak) problems.push(`the message echoes an internal error (${leak})`);
  }
  return problems;
}

const ENTITIES: Record<string, string> = { '&quot;': '"', '&#39;': "'", '&lt;': '<', '&gt;': '>', '&#96;': '`', '&amp;': '&' };

/**
 * The problems with a 4xx answer of the dashboard: an HTML page (or, for htmx, a fragment) whose alert gives the
 * API's message, `<Operation> failed with error: "…"`, free of internal error text. Refusals made before the
 * dashboard sees the request (a URL the router cannot take) are the API's envelope, which is fine too.
 */
export function dashboardRefusalProblems(response: Observed): string[] {
  const type = String(response.headers['content-type'] ?? '');
  if (type.startsWith('application/json')) return envelopeProblems(response);
  if (!type.startsWith('text/html')) return [`content-type is ${JSON.stringify(type)}, neither an HTML page nor the API's envelope`];
  const alert = /<div class="alert error" role="alert" id="error"><p>([\s\S]*?)<\/p><\/div>/.exec(response.body)?.[1];
  if (alert === undefined) return ['the page has no alert with the message'];
  const message = alert.replace(/&(quot|#39|lt|gt|#96|amp);/g, (entity) => ENTITIES[entity]!);
  const problems: string[] = [];
  if (!/^\w+ failed with error: ".*"$/s.test(message)) problems.push(`the message ${JSON.stringify(abbreviate(message, 200))} is not "<Operation> failed with error: \\"…\\""`);
  const leak = INTERNAL_DETAIL.find((pattern) => pattern.test(message));
  if (leak) problems.push(`the message echoes an internal error (${leak})`);
  if (/<script(?! src="\/dashboard\/assets\/htmx\.min\.js")/i.test(response.body)) problems.push('the page has a script of its own');
  return problems;
}

/** The problems with a dashboard redirect: it goes to a dashboard page of this server, never elsewhere. */
export function dashboardRedirectProblems(response: Observed): string[] {
  const location = String(response.headers.location ?? '');
  return /^\/dashboard(\/[^/\\]|$|\?)/.test(location) ? [] : [`redirects to ${JSON.stringify(abbreviate(location, 200))}, not a page of the dashboard`];
}

/** Stream's filter operators; any other `$` key, at any depth of a filter, must get the request refused. */
const FILTER_OPERATORS = new Set(['$and', '$or', '$nor', '$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists', '$autocomplete', '$contains', '$q']);

/** The first unknown `$` key inside `filter`, as a path, walking iteratively (filters may be 10,000 levels deep). */
function unknownOperator(filter: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[filter, 'filter_conditions']];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (!node || typeof node !== 'object') continue;
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('$') && !FILTER_OPERATORS.has(key)) return `${path}.${key}`;
      stack.push([value, `${path}.${key}`]);
    }
  }
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Why `request` must be refused whatever else it holds, or undefined. One class of input only: a filter with an
 * unknown `$` operator at any depth (in QueryUsers' `payload` parameter, a body's filter_conditions, or the dashboard's
 * filter box).
 */
export function mustBeRefused(request: FuzzRequest): string | undefined {
  const documents: unknown[] = [];
  const [path, query] = request.url.split('?');
  const dashboard = /^\/dashboard(\/|$)/.test(path ?? '');
  if (query) {
    for (const [key, value] of new URLSearchParams(query)) {
      if (key === 'payload' && !dashboard) documents.push(parseJson(value));
      // The dashboard's raw filter box holds filter_conditions itself.
      if (key === 'filter' && request.method === 'GET' && /^\/dashboard\/users\/?$/.test(path ?? '')) documents.push({ filter_conditions: parseJson(value) });
    }
  }
  if (typeof request.body === 'string' && !dashboard) documents.push(parseJson(request.body));
  for (const document of documents) {
    if (!document || typeof document !== 'object' || !Object.hasOwn(document, 'filter_conditions')) continue;
    const found = unknownOperator((document as { filter_conditions: unknown }).filter_conditions);
    if (found) return `its filter has the unknown operator ${abbreviate(found, 200)}`;
  }
  return undefined;
}

/** Where two dumps (JSON of {table: rows}) differ first, in a few lines. */
export function dumpDifference(before: string, after: string): string {
  const a = JSON.parse(before) as Record<string, string>;
  const b = JSON.parse(after) as Record<string, string>;
  const lines: string[] = [];
  for (const table of Object.keys(a)) {
    if (a[table] === b[table]) continue;
    const rowsBefore = JSON.parse(a[table]!) as unknown[];
    const rowsAfter = JSON.parse(b[table]!) as unknown[];
    const beforeSet = new Set(rowsBefore.map((row) => JSON.stringify(row)));
    const afterSet = new Set(rowsAfter.map((row) => JSON.stringify(row)));
    const removed = [...beforeSet].filter((row) => !afterSet.has(row));
    const added = [...afterSet].filter((row) => !beforeSet.has(row));
    lines.push(`${table}: ${rowsBefore.length} → ${rowsAfter.length} rows`);
    for (const row of removed.slice(0, 2)) lines.push(`  - ${abbreviate(row, 400)}`);
    for (const row of added.slice(0, 2)) lines.push(`  + ${abbreviate(row, 400)}`);
  }
  return lines.join('\n');
}

/**
 * Text for a report: long runs of a repeated unit folded (`‹a.×1999›`), invisible characters escaped, cut at
 * `max` characters.
 */
export function abbreviate(text: string, max = 600): string {
  const folded = text.replace(/(.{1,12}?)\1{7,}/gsu, (run, unit: string) => `‹${unit}×${run.length / unit.length}›`);
  const visible = folded.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return visible.length <= max ? visible : `${visible.slice(0, max)}… (${text.length} characters in all)`;
}

function bodyText(body: string | Buffer | undefined): string {
  if (body === undefined) return '(none)';
  if (Buffer.isBuffer(body)) return `bytes ${body.toString('hex').slice(0, 200)}`;
  return body === '' ? '(empty)' : abbreviate(body);
}

/** The whole case, for a failure message. */
export function describeCase(property: string, request: FuzzRequest, response: Observed | undefined): string {
  const headers = Object.entries(request.headers)
    .map(([name, value]) => `${name}: ${name === 'authorization' ? '(' + request.caller + ')' : abbreviate(value, 200)}`)
    .join('\n    ');
  const lines = [
    `property: ${property}`,
    `caller:   ${request.caller}`,
    `request:  ${request.method} ${abbreviate(request.url, 800)}`,
    `  headers:\n    ${headers || '(none)'}`,
    `  body (${request.shape}): ${bodyText(request.body)}`,
  ];
  if (response) {
    const type = response.headers['content-type'];
    lines.push(`response: ${response.status}${type ? ` (${String(type)})` : ''} ${abbreviate(response.body, 800)}`);
  }
  return lines.join('\n');
}
