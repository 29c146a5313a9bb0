// Whole requests for one route and one kind of caller: path parameters, query string, body and its encoding,
// headers and cookies. Routes the OpenAPI document describes get schema-shaped inputs (valid ones included, so that
// accepted paths run too) besides the generic ones; routes it does not describe (an HTML dashboard, say) get the
// generic ones only: random query strings, JSON and form-encoded bodies, random cookies. HTML form routes (the
// dashboard's) also get forms shaped by their own schemas, and a fourth caller: a signed-in operator.
import fc from 'fast-check';
import type { DescribedRoute, JsonSchema, RouteParameter } from '../../helpers/routes.js';
import { API_KEY, signToken } from '../../helpers/server.js';
import { fromSchema, type Strength } from './schema.js';
import { customData, dateTime, filterConditions, guestUser, type Seeds } from './stream.js';
import { userFileBody } from './user-file.js';
import { asText, hostileKey, hostileString, hostileValue, idLike, remembered, toJsonText } from './values.js';

export type CallerKind = 'server' | 'user' | 'anonymous' | 'operator';

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Who calls, in words (the token itself says little in a report). */
  caller: string;
  /** How the body was made, for the report. */
  shape: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Percent-encodes the UTF-8 bytes of `text`, a lone surrogate as U+FFFD's (encodeURIComponent throws on those). */
export function percentEncode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // What encoding the UTF-8 bytes one by one gives, at encodeURIComponent's speed: the same replacement character
    // for each lone surrogate, and the five characters it leaves alone that a byte-wise encoder escapes.
    return encodeURIComponent(text.replace(LONE_SURROGATE, '\ufffd')).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  }
}

/**
 * Node's HTTP parser refuses request lines and headers over the server's limit (128 KiB) before the app sees them;
 * app.inject() does not. Longer URLs are cut at a parameter boundary so that the app only gets what it could.
 */
const MAX_URL = 120_000;
function deliverable(url: string): string {
  if (url.length <= MAX_URL) return url;
  const cut = url.lastIndexOf('&', MAX_URL);
  return cut > 0 ? url.slice(0, cut) : url.slice(0, MAX_URL);
}

/** Bodies past the 1 MiB limit are all alike (413): no need to build tens of megabytes of them. */
const MAX_BODY = 1_300_000;

/**
 * A path segment or query value as a client might put it in a URL: properly encoded, raw (the URL parser encodes
 * what it must and resolves `..`), or with a broken percent-encoding (a lone `%`, an overlong or surrogate UTF-8).
 */
function urlComponent(value: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: value.map(percentEncode) },
    // Raw, but never `/`, `?` or `#`: those would change which route is asked, not what it gets.
    { weight: 2, arbitrary: value.map((v) => v.replace(/[/?#\\]/g, (c) => percentEncode(c))) },
    { weight: 1, arbitrary: fc.tuple(value.map(percentEncode), fc.constantFrom('%', '%zz', '%C0%AF', '%ED%A0%80', '%FF', '%00', '%2')).map(([v, bad]) => v + bad) },
  );
}

/** Header values must be printable ASCII (Node refuses others before the server sees them). */
function headerSafe(text: string): string {
  // Each UTF-16 unit's escape remembered: a long header of surrogate halves threw and caught one error each.
  return text.replace(/[^\x20-\x7e]/g, (unit) => remembered(`header escape ${unit}`, () => percentEncode(unit)));
}

// ---------------------------------------------------------------------------------------------------------------
// Callers
// ---------------------------------------------------------------------------------------------------------------

// A fixed issue time, a minute in the past: tokens are the same across runs, and not issued after a revocation
// cut-off a request sets to "now".
const ISSUED_AT = Math.floor(Date.now() / 1000) - 60;

interface Auth {
  label: string;
  headers: Record<string, string>;
  /** A CSRF token the request carries in its form body (`_csrf`), when it has one. */
  formCsrf?: string;
}

function jwtAuth(label: string, token: string): Auth {
  return { label, headers: { 'stream-auth-type': 'jwt', authorization: token } };
}

/** The credentials of each kind of caller, with the variations a real client shows. */
function authFor(caller: CallerKind, seeds: Seeds): fc.Arbitrary<Auth> {
  switch (caller) {
    case 'server':
      return fc.constantFrom(
        jwtAuth('server token', signToken({ server: true })),
        jwtAuth('server token', signToken({ server: true })),
        jwtAuth('server token as "Bearer …"', `Bearer ${signToken({ server: true })}`),
      );
    case 'anonymous':
      return fc.constantFrom<Auth>(
        { label: 'anonymous', headers: { 'stream-auth-type': 'anonymous' } },
        { label: 'anonymous', headers: { 'stream-auth-type': 'anonymous' } },
        { label: 'anonymous (auth type "Anonymous", stray Authorization)', headers: { 'stream-auth-type': 'Anonymous', authorization: 'garbage' } },
      );
    case 'operator': {
      // The dashboard's signed-in operator: the session cookie, and the CSRF token in htmx's header, in the form, or
      // missing or wrong (refused, with nothing changed).
      if (!seeds.operator) throw new Error('the operator caller needs a signed-in session (seeds.operator)');
      const { cookie, csrf } = seeds.operator;
      return fc.oneof(
        { weight: 8, arbitrary: fc.constant<Auth>({ label: 'operator (session, CSRF header)', headers: { cookie, 'x-csrf-token': csrf } }) },
        { weight: 3, arbitrary: fc.constant<Auth>({ label: 'operator (session, CSRF in the form)', headers: { cookie }, formCsrf: csrf }) },
        { weight: 1, arbitrary: fc.constant<Auth>({ label: 'operator without a CSRF token', headers: { cookie } }) },
        { weight: 1, arbitrary: fc.constant<Auth>({ label: "operator with another session's CSRF token", headers: { cookie, 'x-csrf-token': `${csrf.slice(1)}A` } }) },
      );
    }
    case 'user': {
      const [own, ...others] = seeds.userIds;
      const token = (userId: string, iat = true) => signToken(iat ? { user_id: userId, iat: ISSUED_AT } : { user_id: userId });
      return fc.oneof(
        { weight: 8, arbitrary: fc.constant(jwtAuth(`user token of "${own}"`, token(own!))) },
        { weight: 3, arbitrary: fc.constantFrom(...others).map((id) => jwtAuth(`user token of "${id}"`, token(id))) },
        { weight: 1, arbitrary: fc.constant(jwtAuth(`user token of "${own}" without iat`, token(own!, false))) },
        // Whatever a client puts in its own token's user_id reaches the server's queries.
        { weight: 1, arbitrary: idLike(seeds.userIds).map((id) => jwtAuth(`user token of ${JSON.stringify(id).slice(0, 120)}`, token(id))) },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Query string
// ---------------------------------------------------------------------------------------------------------------

/** A parameter; `exact` ones are always encoded properly (a broken api_key would hide everything behind a 401). */
type QueryEntry = [key: string, value: string, exact?: boolean];

/** The api_key parameter: right nearly always (so requests get past it), else missing, wrong, doubled or hostile. */
function apiKey(): fc.Arbitrary<QueryEntry[]> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.constant<QueryEntry[]>([['api_key', API_KEY, true]]) },
    { weight: 1, arbitrary: fc.constantFrom<QueryEntry[]>([], [['api_key', '']], [['api_key', 'wrong']], [['api_key', API_KEY], ['api_key', API_KEY]], [['API_KEY', API_KEY]]) },
    { weight: 1, arbitrary: hostileString().map((v): QueryEntry[] => [['api_key', v]]) },
  );
}

/** A value for a described query parameter (JSON-encoded ones, such as QueryUsers' `payload`, as JSON text). */
function queryParameterValue(parameter: RouteParameter, seeds: Seeds): fc.Arbitrary<string> {
  const value = (strength: Strength) => fromSchema(parameter.schema, parameter.name, seeds, strength);
  if (parameter.json) {
    return fc.oneof(
      { weight: 4, arbitrary: value('valid').map(toJsonText) },
      { weight: 4, arbitrary: value('mutated').map(toJsonText) },
      { weight: 4, arbitrary: value('hostile').map(toJsonText) },
      { weight: 1, arbitrary: hostileValue(seeds.userIds).map(toJsonText) },
      { weight: 1, arbitrary: malformedJson(value('valid')) },
    );
  }
  return fc.oneof({ weight: 4, arbitrary: value('valid').map(asText) }, { weight: 2, arbitrary: value('hostile').map(asText) }, { weight: 1, arbitrary: hostileString() });
}

function describedQuery(parameters: RouteParameter[], seeds: Seeds): fc.Arbitrary<QueryEntry[]> {
  const perParameter = parameters
    .filter((p) => p.in === 'query')
    .map((parameter) => {
      const entry = queryParameterValue(parameter, seeds).map((value): QueryEntry[] => [[parameter.name, value]]);
      const doubled = fc.tuple(queryParameterValue(parameter, seeds), queryParameterValue(parameter, seeds)).map(([a, b]): QueryEntry[] => [[parameter.name, a], [parameter.name, b]]);
      return fc.oneof({ weight: 6, arbitrary: entry }, { weight: parameter.required ? 0 : 3, arbitrary: fc.constant<QueryEntry[]>([]) }, { weight: 1, arbitrary: doubled });
    });
  return fc.tuple(...perParameter).map((lists) => lists.flat());
}

/** Random parameters, for any route: prototype keys, bracket syntax, hostile names and values. */
function genericQuery(seeds: Seeds): fc.Arbitrary<QueryEntry[]> {
  const key = fc.oneof(fc.constantFrom('q', 'page', 'user_id', 'id', 'payload', 'next', 'redirect', 'a[b]', '__proto__[polluted]', 'constructor[prototype][x]', 'x.y'), hostileKey());
  const value = fc.oneof(fc.constantFrom('1', 'true', ''), idLike(seeds.userIds), hostileString(), hostileValue(seeds.userIds).map(asText));
  return fc.array(fc.tuple(key, value), { maxLength: 3 });
}

function queryString(entries: fc.Arbitrary<QueryEntry[]>): fc.Arbitrary<string> {
  return entries.chain((list) =>
    fc
      .tuple(...list.map(([key, value, exact]) => (exact ? fc.constant(percentEncode(value)) : urlComponent(fc.constant(value))).map((v) => `${percentEncode(key)}=${v}`)))
      .map((parts) => parts.join('&')),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------------------------

interface Body {
  shape: string;
  contentType?: string;
  payload?: string | Buffer;
}

const JSON_CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8'];
const ODD_CONTENT_TYPES = [
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', 'APPLICATION/JSON',
  'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/merge-patch+json', 'application/octet-stream',
  'garbage', ';', 'application/json, text/html', 'text/html; charset=utf-8',
];

/** JSON text a parser must refuse (or text it reads oddly: a BOM, duplicate keys, invalid UTF-8). */
function malformedJson(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.tuple(value.map(toJsonText), fc.nat()).map(([text, cut]) => text.slice(0, cut % Math.max(text.length, 1))),
    value.map((v) => `${toJsonText(v)}garbage`),
    value.map((v) => `\ufeff${toJsonText(v)}`),
    value.map((v) => toJsonText(v).replace(/"/g, "'")),
    fc.constantFrom(
      '{', '}', '[', '{"a":}', '{"a":1,}', '[1,]', 'NaN', 'undefined', "{'a':1}", '{a:1}', '{"a":1}{"b":2}', '{"users":{},"users":[]}',
      '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '/* c */{}', '{"a":"\\x00"}', '{"a":"\\ud800"}',
      '{"a":1e999}', '{"a":"\u0000"}', '"\\u0000"', '\u0000', 'null', 'true', '0', '""', '[]', ' ', '\n\n', '{"a":' + '['.repeat(100_000) + '}',
    ),
  );
}

/** `a=1&b[c]=2`: what an HTML form posts, from any JSON-ish value (cut short past the body limit). */
function formEncode(value: unknown): string {
  const parts: string[] = [];
  let size = 0;
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0 && size < MAX_BODY) {
    const [v, prefix] = stack.pop()!;
    if (v && typeof v === 'object') {
      for (const [key, inner] of Object.entries(v).reverse()) stack.push([inner, prefix ? `${prefix}[${key}]` : key]);
      continue;
    }
    const part = `${percentEncode(prefix || 'value')}=${percentEncode(asText(v))}`;
    parts.push(part);
    size += part.length + 1;
  }
  return parts.join('&');
}

function jsonBody(shape: string, value: fc.Arbitrary<unknown>): fc.Arbitrary<Body> {
  const contentType = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...JSON_CONTENT_TYPES) }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, ...ODD_CONTENT_TYPES) });
  return fc.tuple(value, contentType).map(([v, type]) => ({ shape: type && JSON_CONTENT_TYPES.includes(type) ? shape : `${shape}, content-type ${type ?? 'none'}`, contentType: type, payload: toJsonText(v) }));
}

/** Bodies any route may get: random JSON, form-encoded fields, malformed text, invalid UTF-8, an oversized body. */
function genericBody(seeds: Seeds): fc.Arbitrary<Body> {
  const fields = fc.dictionary(fc.oneof(fc.constantFrom('name', 'id', 'user_id', 'csrf', 'session', 'redirect'), hostileKey()), fc.oneof(idLike(seeds.userIds), hostileValue(seeds.userIds)), { maxKeys: 4 });
  return fc.oneof(
    { weight: 3, arbitrary: jsonBody('random JSON', fc.oneof(fields, hostileValue(seeds.userIds))) },
    {
      weight: 2,
      arbitrary: fc.tuple(fields, fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8')).map(
        ([value, type]): Body => ({ shape: 'form-encoded', contentType: type, payload: formEncode(value) }),
      ),
    },
    { weight: 2, arbitrary: fc.tuple(malformedJson(fields), fc.constantFrom<string | undefined>('application/json', 'text/plain', undefined)).map(([text, type]): Body => ({ shape: 'malformed JSON', contentType: type, payload: text })) },
    { weight: 1, arbitrary: fc.constantFrom<Body>({ shape: 'invalid UTF-8', contentType: 'application/json', payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0xaf, 0x22, 0x7d]) }) },
    { weight: 1, arbitrary: fc.constantFrom<Body>({ shape: 'no body, JSON content-type', contentType: 'application/json' }, { shape: 'no body' }, { shape: 'empty body', contentType: 'application/json', payload: '' }) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '\u0000'), fc.constantFrom(1_048_577, 1_200_000)).map(([c, n]): Body => ({ shape: 'oversized JSON', contentType: 'application/json', payload: remembered(`oversized JSON ${c} ${n}`, () => toJsonText({ s: c.repeat(n) })) })) },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// HTML forms (routes with `form` schemas): every field a string, or a list of them for a field sent more than once
// ---------------------------------------------------------------------------------------------------------------

type FormFields = Record<string, string | string[]>;

/** A value for one form field: by its name where it holds JSON or ids, else from its schema, as text. */
function formField(name: string, schema: JsonSchema, seeds: Seeds, hostile: boolean): fc.Arbitrary<string | string[]> {
  const orHostile = (plausible: fc.Arbitrary<string | string[]>) => (hostile ? fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: hostileString() }) : plausible);
  switch (name) {
    case 'custom':
      return orHostile(fc.oneof({ weight: 4, arbitrary: customData(seeds, hostile).map(toJsonText) }, { weight: 1, arbitrary: malformedJson(customData(seeds, false)) }));
    case 'filter':
      return orHostile(fc.oneof({ weight: 4, arbitrary: filterConditions(seeds, hostile).map(toJsonText) }, { weight: 1, arbitrary: fc.constant('') }, { weight: 1, arbitrary: malformedJson(filterConditions(seeds, false)) }));
    case 'event_hooks':
      return orHostile(fc.oneof(fc.constantFrom('[]', '', '[{"webhook_url": "http://127.0.0.1:9/hook"}]', '[{"hook_type": "sqs", "x": 1}]'), hostileValue(seeds.userIds).map(toJsonText)));
    case 'user_ids':
      return fc.oneof(idLike(seeds.userIds, hostile), fc.array(idLike(seeds.userIds, hostile), { minLength: 1, maxLength: 4 }));
    case 'value':
      return orHostile(fc.oneof(fc.jsonValue({ maxDepth: 1 }).map(toJsonText), fc.constantFrom('red', 'blue', '42', '')));
    case 'revoke_tokens_issued_before':
      return orHostile(fc.oneof(fc.constant(''), dateTime(hostile).map(asText)));
    case 'webhook_url':
      return orHostile(fc.constantFrom('', 'http://127.0.0.1:9/fuzz-hook', 'ftp://example.com', 'not a url'));
    case 'webhook_events':
      return orHostile(fc.constantFrom('', 'user.updated', 'user.updated, user.deleted'));
    case 'enforce_unique_usernames':
      return orHostile(fc.constantFrom('no', 'app', 'team'));
    case 'guest_user_creation_disabled':
    case 'multi_tenant_enabled':
    case 'deleted':
      return orHostile(fc.constantFrom('on', ''));
  }
  if (/(^|_)id$/.test(name)) return orHostile(idLike(seeds.userIds, hostile));
  if (name === 'page') return orHostile(fc.oneof(fc.integer({ min: 1, max: 45 }).map(String), fc.constantFrom('0', '-1', '1.5', '99999')));
  return orHostile(fromSchema(schema, name, seeds, 'valid').map((value) => (Array.isArray(value) ? value.map(asText) : asText(value))));
}

/** A form for a schema: its fields (optional ones now and then), and when hostile, odd extra fields. */
function formFor(schema: JsonSchema, seeds: Seeds, hostile: boolean): fc.Arbitrary<FormFields> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const model: Record<string, fc.Arbitrary<string | string[]>> = {};
  for (const [name, fieldSchema] of Object.entries(properties)) if (name !== '_csrf') model[name] = formField(name, fieldSchema, seeds, hostile);
  const known = fc.record(model, { requiredKeys: [...required].filter((key) => key in model) }) as fc.Arbitrary<FormFields>;
  const extra = hostile ? fc.dictionary(fc.oneof(hostileKey(), fc.constantFrom('__proto__', 'constructor', '_csrf')), hostileString(), { maxKeys: 2 }) : fc.constant({});
  return fc.tuple(known, extra).map(([fields, more]) => Object.fromEntries([...Object.entries(more), ...Object.entries(fields)]) as FormFields);
}

/** `a=1&b=2&b=3`: a form as a browser posts it. */
function encodeForm(fields: FormFields): string {
  return Object.entries(fields)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((item) => `${percentEncode(key)}=${percentEncode(item)}`))
    .join('&');
}

function formBodies(schema: JsonSchema, seeds: Seeds): fc.Arbitrary<Body> {
  const type = fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=UTF-8');
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(formFor(schema, seeds, false), type).map(([fields, contentType]): Body => ({ shape: 'schema-valid form', contentType, payload: encodeForm(fields) })) },
    { weight: 2, arbitrary: fc.tuple(formFor(schema, seeds, true), type).map(([fields, contentType]): Body => ({ shape: 'schema-shaped form with hostile parts', contentType, payload: encodeForm(fields) })) },
    { weight: 1, arbitrary: jsonBody('the form as JSON', formFor(schema, seeds, false)) },
  );
}

function formQuery(schema: JsonSchema, seeds: Seeds): fc.Arbitrary<QueryEntry[]> {
  return fc.oneof(formFor(schema, seeds, false), formFor(schema, seeds, true)).map((fields) =>
    Object.entries(fields).flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((item): QueryEntry => [key, item])),
  );
}

function bodyFor(route: DescribedRoute, seeds: Seeds): fc.Arbitrary<Body> {
  // The import endpoint reads JSON lines, not a JSON body.
  if (route.path === '/operator/import') return fc.oneof({ weight: 6, arbitrary: userFileBody(seeds) }, { weight: 1, arbitrary: genericBody(seeds) });
  if (route.form?.body) return fc.oneof({ weight: 4, arbitrary: formBodies(route.form.body, seeds) }, { weight: 1, arbitrary: genericBody(seeds) });
  const schema = route.operation?.body;
  const hasBody = ['POST', 'PATCH', 'PUT'].includes(route.method);
  if (!schema) {
    // A GET or DELETE gets a body now and then (the SDK sends Content-Type: application/json on GET).
    return hasBody ? genericBody(seeds) : fc.oneof({ weight: 6, arbitrary: fc.constant<Body>({ shape: 'no body' }) }, { weight: 1, arbitrary: genericBody(seeds) });
  }
  const value = (strength: Strength) => fromSchema(schema, undefined, seeds, strength);
  // CreateGuest: the user with every field a user has, as stream-chat's setGuestUser sends the app's user object.
  const guests = /^\/(api\/v2\/)?guest$/.test(route.path)
    ? [
        { weight: 5, arbitrary: jsonBody('a guest with every user field', guestUser(seeds, false).map((user) => ({ user }))) },
        { weight: 3, arbitrary: jsonBody('a guest with every user field, hostile values', guestUser(seeds, true).map((user) => ({ user }))) },
      ]
    : [];
  return fc.oneof(
    ...guests,
    { weight: 5, arbitrary: jsonBody('schema-valid JSON', value('valid')) },
    { weight: 5, arbitrary: jsonBody('schema-valid JSON with one hostile change', value('mutated')) },
    { weight: 5, arbitrary: jsonBody('schema-shaped JSON with hostile parts', value('hostile')) },
    { weight: 1, arbitrary: jsonBody('hostile JSON document', hostileValue(seeds.userIds)) },
    {
      weight: 1,
      arbitrary: fc.tuple(malformedJson(value('valid')), fc.constantFrom(...JSON_CONTENT_TYPES)).map(([text, type]): Body => ({ shape: 'malformed JSON', contentType: type, payload: text })),
    },
    { weight: 2, arbitrary: genericBody(seeds) },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Paths, headers, the whole request
// ---------------------------------------------------------------------------------------------------------------

/**
 * A path parameter: a user's id for `user_id`, a task's (or a user's, or any uuid) for `id`, the export file for
 * `file`; a user's id for any other name, as a route's own parameter is most often one.
 */
function pathParameter(name: string, seeds: Seeds): fc.Arbitrary<string> {
  switch (name) {
    case 'id':
    case 'task_id':
      return fc.oneof({ weight: 3, arbitrary: idLike(seeds.taskIds) }, { weight: 1, arbitrary: fc.uuid() }, { weight: 1, arbitrary: idLike(seeds.userIds) });
    case 'file':
      return fc.oneof(
        { weight: 3, arbitrary: fc.tuple(idLike(seeds.taskIds), fc.constantFrom('', '.ndjson', '.json', '.ndjson.ndjson', '%00.ndjson')).map(([id, ext]) => id + ext) },
        { weight: 1, arbitrary: fc.uuid().map((id) => `${id}.ndjson`) },
      );
    default:
      return idLike(seeds.userIds);
  }
}

function pathFor(route: DescribedRoute, seeds: Seeds): fc.Arbitrary<string> {
  if (route.pathParams.length === 0) return fc.constant(route.path);
  const values = route.pathParams.map((name) => urlComponent(pathParameter(name, seeds)));
  return fc.tuple(...values).map((encoded) => {
    let index = 0;
    return route.path.replace(/:[^/]+/g, () => encoded[index++]!);
  });
}

/** Cookies (a dashboard's session, or junk) and a stray header now and then. */
function extraHeaders(seeds: Seeds): fc.Arbitrary<Record<string, string>> {
  const cookie = fc
    .array(fc.tuple(fc.oneof(fc.constantFrom('session', 'sid', 'csrf', '__proto__', 'a'), hostileKey()), fc.oneof(idLike(seeds.userIds), hostileString())), { minLength: 1, maxLength: 3 })
    .map((pairs) => ({ cookie: pairs.map(([k, v]) => `${headerSafe(k).replace(/[=;]/g, '_')}=${headerSafe(v).replace(/;/g, '%3B')}`).join('; ') }));
  const stray = fc.constantFrom<Record<string, string>>(
    { 'content-encoding': 'gzip' },
    { 'transfer-encoding': 'chunked' },
    { accept: 'text/html' },
    { 'x-forwarded-for': '127.0.0.1, ::1' },
    { 'x-http-method-override': 'DELETE' },
    { 'stream-auth-type': 'jwt, anonymous' },
    { expect: '100-continue' },
  );
  return fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: cookie }, { weight: 1, arbitrary: stray });
}

/** Requests for `route` from `caller`. */
export function requestArbitrary(route: DescribedRoute, caller: CallerKind, seeds: Seeds): fc.Arbitrary<FuzzRequest> {
  const described = route.operation
    ? describedQuery(route.operation.parameters, seeds)
    : route.form?.querystring
      ? fc.oneof({ weight: 3, arbitrary: formQuery(route.form.querystring, seeds) }, { weight: 1, arbitrary: fc.constant<QueryEntry[]>([]) })
      : fc.constant<QueryEntry[]>([]);
  const entries = fc
    .tuple(apiKey(), described, fc.oneof({ weight: route.operation || route.form ? 4 : 1, arbitrary: fc.constant<QueryEntry[]>([]) }, { weight: 1, arbitrary: genericQuery(seeds) }))
    .map(([key, known, generic]) => [...key, ...known, ...generic]);
  return fc
    .tuple(pathFor(route, seeds), queryString(entries), bodyFor(route, seeds), authFor(caller, seeds), extraHeaders(seeds))
    .map(([path, query, body, auth, extra]) => {
      const headers: Record<string, string> = { ...extra, ...auth.headers };
      if (body.contentType !== undefined) headers['content-type'] = body.contentType;
      // The operator's CSRF token in the form itself, as a browser's form sends it.
      let payload = body.payload;
      if (auth.formCsrf && typeof payload === 'string' && body.contentType?.startsWith('application/x-www-form-urlencoded')) {
        payload = `${payload ? `${payload}&` : ''}_csrf=${percentEncode(auth.formCsrf)}`;
      }
      // A stray auth-type header from `extra` wins over the caller's: a doubled header is a case of its own.
      if (extra['stream-auth-type']) headers['stream-auth-type'] = extra['stream-auth-type'];
      return {
        method: route.method,
        url: deliverable(query ? `${path}?${query}` : path),
        headers,
        body: payload,
        caller: auth.label,
        shape: body.shape,
      };
    });
}
