// A user's page, its edit (name, role, custom data) and its actions. Each action is sent twice: first without
// `confirmed`, which checks it and shows what it will do, then with confirmed=yes, which does it.
import type { UserRow } from '../../db/schema.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { exportUsers } from '../../exports/service.js';
import { inputError, notFound } from '../../http/errors.js';
import { isPlainObject, sameJson } from '../../lib/json.js';
import { deactivateUser, deleteUsers, reactivateUser, restoreUsers, wasHardDeleted } from '../../lifecycle/service.js';
import { parseRequestJson } from '../../limits.js';
import { editUser, findUserAsOperator, updateUsersPartial, type OperatorEdit } from '../../users/service.js';
import { USER_ACTIONS, type ActionBody, type EditBody, type UserAction, type UserParams, type UserQuery } from '../forms.js';
import { html, segment, type SafeHtml } from '../html.js';
import { apiMessage, orRefusal, pageSession, redirect, sendHtml, type Dashboard } from '../page-kit.js';
import { confirmPage } from '../views/confirm.js';
import { prettyJson } from '../views/format.js';
import { DELETE_EXPLANATIONS, missingUserPage, userPage } from '../views/user.js';
import { BULK_OPERATIONS, deleteOptions } from './users.js';
import { noticeFor } from './notices.js';

const SERVER = { kind: 'server' } as const;

const OPERATIONS: Record<UserAction, string> = {
  deactivate: 'DeactivateUser',
  reactivate: 'ReactivateUser',
  delete: BULK_OPERATIONS.delete,
  restore: 'RestoreUsers',
  'revoke-tokens': 'UpdateUsersPartial',
  export: BULK_OPERATIONS.export,
};

/** The edit form's fields as the service takes them; the custom data checked as the API checks JSON it is sent. */
function editOf(body: Static<typeof EditBody>, limits: Dashboard['ctx']['limits']): OperatorEdit {
  const custom = parseRequestJson(body.custom.trim() === '' ? '{}' : body.custom, limits, 'custom');
  if (!isPlainObject(custom)) throw inputError('custom must be a JSON object');
  return { name: body.name === '' ? null : body.name, role: body.role, custom };
}

/** Fields of custom data added, removed and changed between two versions. */
function customChanges(before: Record<string, unknown>, after: Record<string, unknown>): SafeHtml {
  const added = Object.keys(after).filter((key) => !Object.hasOwn(before, key));
  const removed = Object.keys(before).filter((key) => !Object.hasOwn(after, key));
  const changed = Object.keys(after).filter((key) => Object.hasOwn(before, key) && !sameJson(before[key], after[key]));
  const list = (label: string, keys: string[]) => (keys.length > 0 ? html`<li>${label}: ${keys.map((key, i) => html`${i > 0 ? ', ' : ''}<code>${key}</code>`)}</li>` : html``);
  if (added.length + removed.length + changed.length === 0) return html`<p>Custom data: unchanged.</p>`;
  return html`<p>Custom data:</p><ul>${list('added', added)}${list('changed', changed)}${list('removed', removed)}</ul>`;
}

export function userPages(dashboard: Dashboard) {
  const { route, ctx } = dashboard;

  /** The user of the path, or the page that says there is none (404, with the hard-delete rule if one was hard deleted). */
  async function loadUser(request: FastifyRequest, reply: FastifyReply, operation: string): Promise<{ user: UserRow; blockedBy: string[] } | undefined> {
    const id = (request.params as Static<typeof UserParams>).user_id;
    const found = await findUserAsOperator(ctx, id);
    if (found) return found;
    const hardDeleted = await wasHardDeleted(ctx, id);
    const refusal = hardDeleted ? inputError(`user "${id}" was hard deleted, it can't be restored`) : notFound(`user "${id}" does not exist`);
    sendHtml(reply, missingUserPage({ session: pageSession(request), id, message: apiMessage(request, operation, refusal), hardDeleted }), 404);
    return undefined;
  }

  const userHref = (id: string, notice?: string) => `/dashboard/users/${segment(id)}${notice ? `?notice=${notice}` : ''}`;

  route('GET', '/users/:user_id', { operation: 'QueryUsers' }, async (request, reply) => {
    const found = await loadUser(request, reply, 'QueryUsers');
    if (!found) return reply;
    const { notice } = request.query as Static<typeof UserQuery>;
    return sendHtml(reply, userPage({ session: pageSession(request), ...found, nowMs: dashboard.now(), notice: noticeFor(notice) }));
  });

  route('POST', '/users/:user_id/edit', { operation: 'UpdateUsersPartial' }, async (request, reply) => {
    const body = request.body as Static<typeof EditBody>;
    const found = await loadUser(request, reply, 'UpdateUsersPartial');
    if (!found) return reply;
    const { user } = found;
    const confirmed = body.confirmed === 'yes';
    const outcome = await orRefusal(request, 'UpdateUsersPartial', async () => editUser(ctx, user.id, editOf(body, ctx.limits), { dryRun: !confirmed }));
    if (!outcome.ok) {
      // The form comes back as it was sent, with the API's message.
      const view = { session: pageSession(request), ...found, nowMs: dashboard.now(), error: outcome.message, edit: { name: body.name, role: body.role, custom: body.custom } };
      return sendHtml(reply, userPage(view), outcome.status);
    }
    if (confirmed) return redirect(reply, userHref(user.id, 'edited'));
    const after = outcome.value;
    if (after.name === user.name && after.role === user.role && sameJson(after.custom, user.custom)) return redirect(reply, userHref(user.id, 'unchanged'));
    const change = (label: string, before: string | null, now: string | null) =>
      before === now ? html`` : html`<li>${label}: ${before ?? '(none)'} → <strong>${now ?? '(none)'}</strong></li>`;
    return sendHtml(
      reply,
      confirmPage({
        session: pageSession(request),
        section: 'users',
        title: `Save the changes to user ${user.id}?`,
        summary: html`<ul>${change('Name', user.name, after.name)}${change('Role', user.role, after.role)}</ul>
${customChanges(user.custom, after.custom)}
<details open><summary>Custom data after the change</summary><pre class="json" tabindex="0" aria-label="Custom data after the change">${prettyJson(after.custom)}</pre></details>`,
        action: `/dashboard/users/${segment(user.id)}/edit`,
        fields: { name: body.name, role: body.role, custom: body.custom },
        confirmLabel: 'Yes, save the changes',
        cancelHref: userHref(user.id),
      }),
    );
  });

  for (const action of USER_ACTIONS) {
    const operation = OPERATIONS[action];
    route('POST', `/users/:user_id/${action}`, { operation }, async (request, reply) => {
      const body = request.body as Static<typeof ActionBody>;
      const found = await loadUser(request, reply, operation);
      if (!found) return reply;
      const { user } = found;
      const mode = body.mode ?? 'soft';
      const cutoff = body.cutoff ?? 'now';

      if (body.confirmed !== 'yes') {
        const ask = {
          deactivate: { title: `Deactivate user ${user.id}?`, text: 'It can no longer call the API or connect: its tokens are refused (401, code 5) until it is reactivated. Its data is kept.', label: 'Yes, deactivate' },
          reactivate: { title: `Reactivate user ${user.id}?`, text: 'It can call the API and connect again with its tokens.', label: 'Yes, reactivate' },
          delete: { title: `${mode[0]!.toUpperCase()}${mode.slice(1)} delete user ${user.id}?`, text: DELETE_EXPLANATIONS[mode], label: `Yes, ${mode} delete` },
          restore: { title: `Restore user ${user.id}?`, text: 'It comes back with its data, and its tokens work again.', label: 'Yes, restore' },
          'revoke-tokens':
            cutoff === 'now'
              ? { title: `Revoke the tokens of user ${user.id}?`, text: 'Every token of this user issued before now (and every token without iat) is refused from now on (401, code 40). Tokens issued later work.', label: 'Yes, revoke' }
              : { title: `Lift the token revocation of user ${user.id}?`, text: 'Its tokens issued before the cut-off work again (unless the app revokes them).', label: 'Yes, lift it' },
          export: { title: `Export user ${user.id}?`, text: 'A task writes its data to a file; the task page gives the download link once it is done.', label: 'Yes, export' },
        }[action];
        return sendHtml(
          reply,
          confirmPage({
            session: pageSession(request),
            section: 'users',
            title: ask.title,
            summary: html`<p>${ask.text}</p>`,
            action: `/dashboard/users/${segment(user.id)}/${action}`,
            fields: { mode: action === 'delete' ? mode : undefined, cutoff: action === 'revoke-tokens' ? cutoff : undefined },
            confirmLabel: ask.label,
            cancelHref: userHref(user.id),
            danger: action === 'delete' || action === 'deactivate' || (action === 'revoke-tokens' && cutoff === 'now'),
          }),
        );
      }

      const outcome = await orRefusal(request, operation, async (): Promise<string> => {
        switch (action) {
          case 'deactivate':
            await deactivateUser(ctx, user.id, {});
            return userHref(user.id, 'deactivated');
          case 'reactivate':
            await reactivateUser(ctx, user.id, {});
            return userHref(user.id, 'reactivated');
          case 'restore':
            await restoreUsers(ctx, [user.id]);
            return userHref(user.id, 'restored');
          case 'revoke-tokens': {
            const at = cutoff === 'now' ? new Date().toISOString() : null;
            await updateUsersPartial(ctx, SERVER, [{ id: user.id, set: { revoke_tokens_issued_before: at } }]);
            return userHref(user.id, cutoff === 'now' ? 'revoked' : 'unrevoked');
          }
          case 'delete':
            return `/dashboard/tasks/${segment(await deleteUsers(ctx, [user.id], deleteOptions(mode)))}`;
          case 'export':
            return `/dashboard/tasks/${segment(await exportUsers(ctx, [user.id]))}`;
        }
      });
      if (outcome.ok) return redirect(reply, outcome.value);
      return sendHtml(reply, userPage({ session: pageSession(request), ...found, nowMs: dashboard.now(), error: outcome.message }), outcome.status);
    });
  }
}
