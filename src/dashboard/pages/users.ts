// The users page (search, paging) and the bulk actions on the users ticked in it.
import type { Static } from '@sinclair/typebox';
import { exportUsers } from '../../exports/service.js';
import { inputError } from '../../http/errors.js';
import { isPlainObject, toJsonText } from '../../lib/json.js';
import { checkUserIds, deactivateUsers, deleteUsers, reactivateUsers, restoreUsers, type DeleteMode, type DeleteOptions } from '../../lifecycle/service.js';
import { MAX_USERS_PER_EXPORT, MAX_USERS_PER_REQUEST, parseRequestJson, type InputLimits } from '../../limits.js';
import { TASK_TYPE_NAMES, TASK_TYPES } from '../../tasks/table.js';
import { parseQueryPayload } from '../../users/query-payload.js';
import type { QueryUsersPayload } from '../../users/schemas.js';
import { queryUsersAsOperator } from '../../users/service.js';
import { listOf, type BULK_ACTIONS, type BulkBody, type UsersQuery } from '../forms.js';
import { html, segment } from '../html.js';
import { orRefusal, pageSession, redirect, sendHtml, type Dashboard } from '../page-kit.js';
import { confirmPage } from '../views/confirm.js';
import { DELETE_EXPLANATIONS } from '../views/user.js';
import { usersPage } from '../views/users.js';
import { noticeFor } from './notices.js';

export const USERS_PER_PAGE = 25;

/** A custom field's value as typed: JSON when it is JSON (42, true, "42", null), else the text itself. */
function typedValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The search form as a queryUsers payload: each field is a condition of Stream's filter language, all of them must
 * hold. Checked as the API checks a payload (limits on offset, depth, …), so that errors read as the API's.
 */
export function usersPayload(search: Static<typeof UsersQuery>, page: number, limits: InputLimits): QueryUsersPayload {
  const conditions: Array<Record<string, unknown>> = [];
  if (search.id) conditions.push({ id: { $autocomplete: search.id } });
  if (search.name) conditions.push({ name: { $autocomplete: search.name } });
  if (search.role) conditions.push({ role: { $eq: search.role } });
  if (search.team) conditions.push({ teams: { $eq: search.team } });
  if (search.field) {
    conditions.push({ [search.field]: search.value ? { $eq: typedValue(search.value) } : { $exists: true } });
  } else if (search.value) {
    throw inputError('a value to match needs the name of its custom field');
  }
  if (search.filter?.trim()) {
    const filter = parseRequestJson(search.filter, limits, 'filter');
    if (!isPlainObject(filter)) throw inputError('filter must be a JSON object, as queryUsers\' filter_conditions');
    conditions.push(filter);
  }
  const filter_conditions = conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0] : { $and: conditions };
  const payload = {
    filter_conditions,
    sort: [{ field: search.sort ?? 'created_at', direction: search.dir === 'asc' ? 1 : -1 }],
    limit: USERS_PER_PAGE + 1,
    offset: (page - 1) * USERS_PER_PAGE,
  };
  return parseQueryPayload(toJsonText(payload), limits);
}

/**
 * The operation each bulk action is (its permission and rate limit): the task types' actions (an operation enqueues
 * the task type of its name), and restore. The user page's delete and export are the same operations.
 */
export const BULK_OPERATIONS = {
  ...Object.fromEntries(TASK_TYPE_NAMES.flatMap((type) => (TASK_TYPES[type].dashboardAction ? [[TASK_TYPES[type].dashboardAction, type]] : []))),
  restore: 'RestoreUsers',
} as Record<(typeof BULK_ACTIONS)[number], string>;

/** DeleteUsers' options for a mode: a hard deletion takes messages and conversations with it, as the API requires. */
export function deleteOptions(mode: DeleteMode): DeleteOptions {
  return mode === 'hard' ? { user: 'hard', messages: 'hard', conversations: 'hard' } : { user: mode };
}

export function usersPages(dashboard: Dashboard) {
  const { route, ctx } = dashboard;

  route('GET', '/users', { operation: 'QueryUsers' }, async (request, reply) => {
    const search = request.query as Static<typeof UsersQuery>;
    const page = Number(search.page ?? 1);
    const { notice, ...kept } = search;
    const found = await orRefusal(request, 'QueryUsers', async () =>
      queryUsersAsOperator(ctx, usersPayload(search, page, ctx.limits), { includeDeleted: Boolean(search.deleted) }),
    );
    const users = found.ok ? found.value : [];
    return sendHtml(
      reply,
      usersPage({
        session: pageSession(request),
        search: kept,
        users: users.slice(0, USERS_PER_PAGE),
        page,
        hasNext: users.length > USERS_PER_PAGE,
        nowMs: dashboard.now(),
        notice: noticeFor(notice),
        error: found.ok ? undefined : found.message,
      }),
      found.ok ? 200 : found.status,
    );
  });

  route('POST', '/users/bulk', { operation: 'DeleteUsers' }, async (request, reply) => {
    const body = request.body as Static<typeof BulkBody>;
    const operation = BULK_OPERATIONS[body.action];
    request.dashboardOperation = operation;
    const ids = [...new Set(listOf(body.user_ids))];
    checkUserIds(ids, body.action === 'export' ? MAX_USERS_PER_EXPORT : MAX_USERS_PER_REQUEST);
    const mode = body.mode ?? 'soft';

    if (body.confirmed !== 'yes') {
      const what = {
        deactivate: 'They can no longer call the API or connect, until they are reactivated. A task does it.',
        reactivate: 'They can call the API and connect again. A task does it.',
        delete: DELETE_EXPLANATIONS[mode],
        restore: 'Soft-deleted users come back with their data. Pruned and hard-deleted users cannot be restored.',
        export: 'A task writes their data to a file; its page gives the download link once it is done.',
      }[body.action];
      const verb = body.action === 'delete' ? `${mode} delete` : body.action;
      return sendHtml(
        reply,
        confirmPage({
          session: pageSession(request),
          section: 'users',
          title: `${verb[0]!.toUpperCase()}${verb.slice(1)} ${ids.length} user${ids.length === 1 ? '' : 's'}?`,
          summary: html`<p>${what}</p>
<ul class="inline-list" aria-label="The users">${ids.map((id) => html`<li><a href="/dashboard/users/${segment(id)}">${id}</a></li>`)}</ul>`,
          action: '/dashboard/users/bulk',
          fields: { action: body.action, user_ids: ids, mode: body.action === 'delete' ? mode : undefined },
          confirmLabel: body.action === 'delete' ? `Yes, ${mode} delete them` : `Yes, ${body.action} them`,
          cancelHref: '/dashboard/users',
          danger: body.action === 'delete',
        }),
      );
    }

    let taskId: string;
    switch (body.action) {
      case 'deactivate':
        taskId = await deactivateUsers(ctx, ids, {});
        break;
      case 'reactivate':
        taskId = await reactivateUsers(ctx, ids, {});
        break;
      case 'delete':
        taskId = await deleteUsers(ctx, ids, deleteOptions(mode));
        break;
      case 'export':
        taskId = await exportUsers(ctx, ids);
        break;
      case 'restore':
        await restoreUsers(ctx, ids);
        return redirect(reply, '/dashboard/users?notice=restored-many');
    }
    return redirect(reply, `/dashboard/tasks/${segment(taskId)}`);
  });
}
