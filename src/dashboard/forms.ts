// What each dashboard route accepts, as TypeBox schemas (validated by Fastify like the API's routes, and read by the
// fuzz suite to make valid forms), and the parser of HTML form bodies. Form fields arrive as strings; a field sent
// more than once (checkboxes) arrives as a list.
import { Type, type TSchema } from '@sinclair/typebox';
import { StreamError, ErrorCode } from '../http/errors.js';
import { MAX_USERS_PER_REQUEST } from '../limits.js';

const text = (maxLength: number) => Type.String({ maxLength });
const optionalText = (maxLength: number) => Type.Optional(text(maxLength));
const Confirmed = Type.Optional(Type.Literal('yes', { description: 'absent: show what would be done, and ask' }));
const Csrf = Type.Optional(text(128));
const Page = Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$' }));
const Notice = Type.Optional(text(64));

export const DELETE_MODES = ['soft', 'pruning', 'hard'] as const;
export const BULK_ACTIONS = ['deactivate', 'reactivate', 'delete', 'restore', 'export'] as const;
export const USER_ACTIONS = ['deactivate', 'reactivate', 'delete', 'restore', 'revoke-tokens', 'export'] as const;
export type UserAction = (typeof USER_ACTIONS)[number];
export const SORT_FIELDS = ['created_at', 'updated_at', 'last_active', 'name', 'id', 'role'] as const;

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)));

export const UserParams = Type.Object({ user_id: text(1024) });
export const TaskParams = Type.Object({ task_id: text(256) });

export const SignInBody = Type.Object({ api_key: text(1024), api_secret: text(1024) });

export const UsersQuery = Type.Object({
  id: optionalText(255),
  name: optionalText(255),
  role: optionalText(255),
  team: optionalText(255),
  field: optionalText(255),
  value: optionalText(4096),
  filter: optionalText(20_000),
  deleted: optionalText(8),
  sort: Type.Optional(literals(SORT_FIELDS)),
  dir: Type.Optional(literals(['asc', 'desc'])),
  page: Page,
  notice: Notice,
});

export const BulkBody = Type.Object({
  _csrf: Csrf,
  action: literals(BULK_ACTIONS),
  user_ids: Type.Optional(Type.Union([text(1024), Type.Array(text(1024), { maxItems: MAX_USERS_PER_REQUEST })])),
  mode: Type.Optional(literals(DELETE_MODES)),
  confirmed: Confirmed,
});

export const UserQuery = Type.Object({ notice: Notice });

export const EditBody = Type.Object({
  _csrf: Csrf,
  name: text(10_000),
  role: text(1_000),
  custom: text(200_000),
  confirmed: Confirmed,
});

export const ActionBody = Type.Object({
  _csrf: Csrf,
  mode: Type.Optional(literals(DELETE_MODES)),
  cutoff: Type.Optional(literals(['now', 'clear'])),
  confirmed: Confirmed,
});

export const TasksQuery = Type.Object({ page: Page });

export const AppBody = Type.Object({
  _csrf: Csrf,
  revoke_tokens_issued_before: text(100),
  guest_user_creation_disabled: optionalText(8),
  enforce_unique_usernames: text(16),
  multi_tenant_enabled: optionalText(8),
  webhook_url: text(4096),
  webhook_events: text(10_000),
  event_hooks: text(200_000),
  confirmed: Confirmed,
});

export const AppQuery = Type.Object({ notice: Notice });
export const CsrfBody = Type.Object({ _csrf: Csrf });
export const WebhooksQuery = Type.Object({ notice: Notice });
export const HookParams = Type.Object({ hook_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const RetryBody = Type.Object({ _csrf: Csrf, delivery_id: Type.Optional(Type.String({ pattern: '^([0-9a-fA-F-]{36})?$' })) });
export const CancelBody = Type.Object({ _csrf: Csrf, confirmed: Confirmed });
export const SignInQuery = Type.Object({ ended: optionalText(8) });

export interface RouteSchemas {
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
}

/** The schemas of every dashboard route, by "METHOD /path" under /dashboard (the fuzz suite reads them too). */
export const ROUTE_SCHEMAS: Record<string, RouteSchemas> = {
  'GET /': {},
  'GET /sign-in': { querystring: SignInQuery },
  'POST /sign-in': { body: SignInBody },
  'POST /sign-out': { body: CsrfBody },
  'GET /users': { querystring: UsersQuery },
  'POST /users/bulk': { body: BulkBody },
  'GET /users/:user_id': { params: UserParams, querystring: UserQuery },
  'POST /users/:user_id/edit': { params: UserParams, body: EditBody },
  ...Object.fromEntries(USER_ACTIONS.map((action) => [`POST /users/:user_id/${action}`, { params: UserParams, body: ActionBody }])),
  'GET /tasks': { querystring: TasksQuery },
  'GET /tasks/:task_id': { params: TaskParams },
  'GET /tasks/:task_id/status': { params: TaskParams },
  'GET /app': { querystring: AppQuery },
  'POST /app': { body: AppBody },
  'GET /webhooks': { querystring: WebhooksQuery },
  'POST /webhooks/:hook_id/retry': { params: HookParams, body: RetryBody },
  'POST /webhooks/:hook_id/cancel': { params: HookParams, body: CancelBody },
  'GET /assets/htmx.min.js': {},
  'GET /assets/dashboard.css': {},
};

/** Form fields allowed in one body: far more than any dashboard form has. */
const MAX_FIELDS = 500;

/**
 * An application/x-www-form-urlencoded body as an object without a prototype (so that a field named `__proto__` is
 * only a field): one string per field, or a list of them when the field came more than once.
 */
export function parseForm(body: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = Object.create(null);
  let count = 0;
  for (const [key, value] of new URLSearchParams(body)) {
    if (++count > MAX_FIELDS) throw new StreamError(ErrorCode.Input, `the form has more than ${MAX_FIELDS} fields`);
    const existing = fields[key];
    if (existing === undefined) fields[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else fields[key] = [existing, value];
  }
  return fields;
}

/** A field that may have come once or several times, as a list. */
export function listOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
