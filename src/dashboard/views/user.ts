// A user's page: every field, custom data as formatted JSON, and the actions, each of which asks for confirmation
// on a page of its own (confirm.ts) before it is done.
import type { UserRow } from '../../db/schema.js';
import { html, segment, type SafeHtml } from '../html.js';
import { ago, prettyJson, time } from './format.js';
import { csrfField, page, type PageSession } from './layout.js';
import { stateBadges } from './users.js';

export interface UserView {
  session: PageSession;
  user: UserRow;
  blockedBy: string[];
  nowMs: number;
  notice?: string;
  error?: string;
  /** The edit form as last sent (after a refusal), instead of the stored values. */
  edit?: { name: string; role: string; custom: string };
  status?: number;
}

function userLinks(ids: string[]): SafeHtml {
  if (ids.length === 0) return html`<span class="muted">none</span>`;
  return html`<ul class="inline-list">${ids.map((id) => html`<li><a href="/dashboard/users/${segment(id)}">${id}</a></li>`)}</ul>`;
}

function json(value: unknown, label: string): SafeHtml {
  if (value === null || value === undefined) return html`<span class="muted">none</span>`;
  return html`<pre class="json" tabindex="0" aria-label="${label}">${prettyJson(value)}</pre>`;
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

function fields(view: UserView): SafeHtml {
  const { user } = view;
  const deletion = user.deletion as { user?: string } | null;
  return html`<dl class="fields">
  <dt>ID</dt><dd><code>${user.id}</code></dd>
  <dt>State</dt><dd>${stateBadges(user)}</dd>
  <dt>Name</dt><dd>${user.name ?? html`<span class="muted">none</span>`}</dd>
  <dt>Role</dt><dd>${user.role}</dd>
  <dt>Teams</dt><dd>${user.teams.length > 0 ? user.teams.join(', ') : html`<span class="muted">none</span>`}</dd>
  <dt>Roles in teams (teams_role)</dt><dd>${json(user.teams_role, 'teams_role')}</dd>
  <dt>Image</dt><dd>${user.image ? html`<code class="wrap">${user.image}</code>` : html`<span class="muted">none</span>`}</dd>
  <dt>Language</dt><dd>${user.language || html`<span class="muted">none</span>`}</dd>
  <dt>Online</dt><dd>${yesNo(user.online ?? false)}</dd>
  <dt>Last active</dt><dd>${time(user.last_active)}${user.last_active !== null ? html` <span class="muted">(${ago(user.last_active, view.nowMs)})</span>` : html``}</dd>
  <dt>Created</dt><dd>${time(user.created_at)}</dd>
  <dt>Updated</dt><dd>${time(user.updated_at)}</dd>
  <dt>Deactivated</dt><dd>${time(user.deactivated_at, 'no')}</dd>
  <dt>Deleted</dt><dd>${time(user.deleted_at, 'no')}${deletion ? html` <span class="muted">(${deletion.user ?? 'soft'}; ${user.deletion_applied ? `${user.deletion_applied} deletion applied` : 'task pending'})</span>` : html``}</dd>
  <dt>Tokens revoked before</dt><dd>${time(user.revoke_tokens_issued_before, 'not revoked')}</dd>
  <dt>Invisible</dt><dd>${yesNo(user.invisible)}</dd>
  <dt>Banned</dt><dd>${yesNo(user.banned)}${user.ban_expires !== null ? html`, until ${time(user.ban_expires)}` : html``}</dd>
  <dt>Shadow banned</dt><dd>${yesNo(user.shadow_banned)}</dd>
  <dt>Bypasses moderation</dt><dd>${yesNo(user.bypass_moderation)}</dd>
  <dt>Privacy settings</dt><dd>${json(user.privacy_settings, 'privacy_settings')}</dd>
  <dt>Blocks</dt><dd>${userLinks(user.blocked_user_ids)}</dd>
  <dt>Blocked by</dt><dd>${userLinks(view.blockedBy)}</dd>
</dl>
<h2 id="custom-heading">Custom data</h2>
<pre class="json" id="custom-data" tabindex="0" aria-labelledby="custom-heading">${prettyJson(user.custom)}</pre>`;
}

function editForm(view: UserView): SafeHtml {
  const { user } = view;
  const action = `/dashboard/users/${segment(user.id)}/edit`;
  if (user.deleted_at !== null || user.deactivated_at !== null) {
    return html`<p>A ${user.deleted_at !== null ? 'deleted' : 'deactivated'} user cannot be edited${user.deleted_at !== null ? '' : ': reactivate it first'}.</p>`;
  }
  const values = view.edit ?? { name: user.name ?? '', role: user.role, custom: prettyJson(user.custom) };
  return html`<form method="post" action="${action}" class="stack">
  ${csrfField(view.session)}
  <div class="field">
    <label for="edit-name">Name</label>
    <input id="edit-name" name="name" type="text" value="${values.name}" aria-describedby="edit-name-hint">
    <span class="hint" id="edit-name-hint">Empty: no name.</span>
  </div>
  <div class="field">
    <label for="edit-role">Role</label>
    <input id="edit-role" name="role" type="text" required value="${values.role}">
  </div>
  <div class="field">
    <label for="edit-custom">Custom data (a JSON object)</label>
    <textarea id="edit-custom" name="custom" rows="10" spellcheck="false" aria-describedby="edit-custom-hint">${values.custom}</textarea>
    <span class="hint" id="edit-custom-hint">Replaces the custom data as a whole: a field left out is removed. Checked as the API checks a partial update (nesting depth, 5 KB per user).</span>
  </div>
  <div><button type="submit">Review changes…</button></div>
</form>`;
}

function actionButton(view: UserView, action: string, label: string, extra: SafeHtml = html``, danger = false): SafeHtml {
  return html`<form method="post" action="/dashboard/users/${segment(view.user.id)}/${action}" class="action">
  ${csrfField(view.session)}${extra}
  <button type="submit"${danger ? html` class="danger"` : html``}>${label}</button>
</form>`;
}

export const DELETE_EXPLANATIONS = {
  soft: 'Soft: the user is marked deleted at once (hidden from queries, refused by the API); its data is kept and it can be restored.',
  pruning: 'Pruning: as soft, and then the task clears its name, image and custom data. It cannot be restored.',
  hard: 'Hard: the task removes the user; it cannot be restored. The id keeps a tombstone (a keyed hash): tokens issued before the deletion, and tokens without iat, stay refused. A server-side upsert may create a new user with the same id; give it tokens with iat. Messages and conversations are recorded as hard deleted too.',
} as const;

function actions(view: UserView): SafeHtml {
  const { user } = view;
  const deleted = user.deleted_at !== null;
  const mode = (user.deletion as { user?: string } | null)?.user ?? 'soft';
  const buttons: SafeHtml[] = [];
  if (!deleted) {
    buttons.push(
      user.deactivated_at === null ? actionButton(view, 'deactivate', 'Deactivate…') : actionButton(view, 'reactivate', 'Reactivate…'),
      actionButton(view, 'revoke-tokens', 'Revoke tokens…', html`<input type="hidden" name="cutoff" value="now">`),
    );
    if (user.revoke_tokens_issued_before !== null) {
      buttons.push(actionButton(view, 'revoke-tokens', 'Lift the token revocation…', html`<input type="hidden" name="cutoff" value="clear">`));
    }
    buttons.push(actionButton(view, 'export', 'Export…'));
  }
  if (deleted && mode === 'soft') buttons.push(actionButton(view, 'restore', 'Restore…'));
  const deleteForm = html`<form method="post" action="/dashboard/users/${segment(user.id)}/delete" class="stack delete">
  ${csrfField(view.session)}
  <fieldset>
    <legend>Delete${deleted ? ' (again, to go further)' : ''}</legend>
    ${(['soft', 'pruning', 'hard'] as const).map(
      (choice) => html`<div class="check">
      <input type="radio" name="mode" value="${choice}" id="delete-${choice}"${choice === 'soft' ? html` checked` : html``}>
      <label for="delete-${choice}">${DELETE_EXPLANATIONS[choice]}</label>
    </div>`,
    )}
  </fieldset>
  <div><button type="submit" class="danger">Delete…</button></div>
</form>`;
  return html`<div class="actions">${buttons}</div>
${deleted && mode !== 'soft' ? html`<p>This user was ${mode} deleted: it cannot be restored.</p>` : html``}
${deleteForm}`;
}

export function userPage(view: UserView): string {
  return page({
    title: `User ${view.user.id}`,
    section: 'users',
    session: view.session,
    notice: view.notice,
    error: view.error,
    body: html`<p class="crumbs"><a href="/dashboard/users">Users</a> › ${view.user.id}</p>
<h1>User <code>${view.user.id}</code></h1>
${fields(view)}
<section aria-labelledby="edit-heading">
  <h2 id="edit-heading">Edit</h2>
  ${editForm(view)}
</section>
<section aria-labelledby="actions-heading">
  <h2 id="actions-heading">Actions</h2>
  ${actions(view)}
</section>`,
  });
}

/** The page of an id no row holds: never existed, or hard deleted (its tombstone tells). */
export function missingUserPage(options: { session: PageSession; id: string; message: string; hardDeleted: boolean }): string {
  return page({
    title: 'No such user',
    section: 'users',
    session: options.session,
    error: options.message,
    body: html`<p class="crumbs"><a href="/dashboard/users">Users</a> › ${options.id}</p>
<h1>No user <code>${options.id}</code></h1>
${options.hardDeleted ? html`<p>A user with this id was hard deleted: it is gone and cannot be restored. ${DELETE_EXPLANATIONS.hard}</p>` : html`<p>No user has this id.</p>`}
<p><a href="/dashboard/users">Back to the users</a></p>`,
  });
}
