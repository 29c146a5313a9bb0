// The users page: the search form (every field becomes a condition of Stream's filter language), the results with
// their state, paging, and the bulk actions on the users ticked.
import type { UserRow } from '../../db/schema.js';
import { html, queryString, segment, type SafeHtml } from '../html.js';
import { SORT_FIELDS } from '../forms.js';
import { ago, time } from './format.js';
import { csrfField, page, type PageSession } from './layout.js';

export interface UsersSearch {
  id?: string;
  name?: string;
  role?: string;
  team?: string;
  field?: string;
  value?: string;
  filter?: string;
  deleted?: string;
  sort?: string;
  dir?: string;
  page?: string;
}

const SORT_LABELS: Record<(typeof SORT_FIELDS)[number], string> = {
  created_at: 'Created',
  updated_at: 'Updated',
  last_active: 'Last active',
  name: 'Name',
  id: 'ID',
  role: 'Role',
};

/** The state of a user as badges: deleted (how, and whether the task applied it yet), deactivated, online. */
export function stateBadges(user: UserRow): SafeHtml {
  const badges: SafeHtml[] = [];
  if (user.deleted_at !== null) {
    const mode = (user.deletion as { user?: string } | null)?.user ?? 'soft';
    const applied = user.deletion_applied === mode ? '' : ', pending';
    badges.push(html`<span class="badge deleted">deleted (${mode}${applied})</span>`);
  }
  if (user.deactivated_at !== null) badges.push(html`<span class="badge deactivated">deactivated</span>`);
  if (user.online) badges.push(html`<span class="badge online">online</span>`);
  if (badges.length === 0) badges.push(html`<span class="badge active">active</span>`);
  return html`${badges}`;
}

function textField(id: keyof UsersSearch, label: string, search: UsersSearch, hint?: string): SafeHtml {
  return html`<div class="field">
    <label for="q-${id}">${label}</label>
    <input id="q-${id}" name="${id}" type="text" spellcheck="false" value="${search[id] ?? ''}"${hint ? html` aria-describedby="q-${id}-hint"` : html``}>
    ${hint ? html`<span class="hint" id="q-${id}-hint">${hint}</span>` : html``}
  </div>`;
}

function searchForm(search: UsersSearch): SafeHtml {
  const sort = search.sort ?? 'created_at';
  const dir = search.dir ?? 'desc';
  return html`<form method="get" action="/dashboard/users" class="search" role="search" aria-label="Find users">
  <div class="grid">
    ${textField('id', 'ID starts with', search)}
    ${textField('name', 'Name starts with', search, 'each word starts a word of the name')}
    ${textField('role', 'Role', search)}
    ${textField('team', 'Team', search)}
    ${textField('field', 'Custom field', search, 'e.g. color')}
    ${textField('value', 'equals', search, 'JSON (42, true, "42"), or plain text')}
  </div>
  <div class="field">
    <label for="q-filter">Filter (Stream's filter language, JSON)</label>
    <textarea id="q-filter" name="filter" rows="2" spellcheck="false" aria-describedby="q-filter-hint">${search.filter ?? ''}</textarea>
    <span class="hint" id="q-filter-hint">As queryUsers' filter_conditions, e.g. {"created_at": {"$gte": "2026-01-01T00:00:00Z"}}; combined with the fields above.</span>
  </div>
  <div class="row">
    <div class="field inline">
      <label for="q-sort">Sort by</label>
      <select id="q-sort" name="sort">${SORT_FIELDS.map((field) => html`<option value="${field}"${field === sort ? html` selected` : html``}>${SORT_LABELS[field]}</option>`)}</select>
    </div>
    <div class="field inline">
      <label for="q-dir">Order</label>
      <select id="q-dir" name="dir">
        <option value="desc"${dir === 'desc' ? html` selected` : html``}>descending</option>
        <option value="asc"${dir === 'asc' ? html` selected` : html``}>ascending</option>
      </select>
    </div>
    <div class="field inline check">
      <input id="q-deleted" name="deleted" type="checkbox" value="on"${search.deleted ? html` checked` : html``}>
      <label for="q-deleted">Include deleted users</label>
    </div>
    <button type="submit">Search</button>
    <a href="/dashboard/users" class="button secondary">Clear</a>
  </div>
</form>`;
}

function row(user: UserRow, nowMs: number): SafeHtml {
  const href = `/dashboard/users/${segment(user.id)}`;
  return html`<tr${user.deleted_at !== null ? html` class="is-deleted"` : user.deactivated_at !== null ? html` class="is-deactivated"` : html``}>
  <td class="select"><input type="checkbox" name="user_ids" value="${user.id}" id="select-${user.id}" form="bulk"><label for="select-${user.id}" class="visually-hidden">Select ${user.id}</label></td>
  <td class="id"><a href="${href}">${user.id}</a></td>
  <td>${user.name ?? html`<span class="muted">none</span>`}</td>
  <td>${user.role}</td>
  <td>${user.teams.length > 0 ? user.teams.join(', ') : html`<span class="muted">none</span>`}</td>
  <td>${stateBadges(user)}</td>
  <td class="when">${time(user.created_at)}</td>
  <td class="when">${user.last_active === null ? html`<span class="muted">never</span>` : html`<span title="${ago(user.last_active, nowMs)}">${time(user.last_active)}</span>`}</td>
</tr>`;
}

export interface UsersView {
  session: PageSession;
  search: UsersSearch;
  users: UserRow[];
  page: number;
  hasNext: boolean;
  nowMs: number;
  notice?: string;
  error?: string;
}

function pager(view: UsersView): SafeHtml {
  const link = (pageNumber: number) => `/dashboard/users${queryString({ ...view.search, page: pageNumber === 1 ? undefined : pageNumber })}`;
  return html`<nav class="pager" aria-label="Pages of users">
  ${view.page > 1 ? html`<a href="${link(view.page - 1)}" rel="prev">← Previous page</a>` : html``}
  <span>Page ${view.page}</span>
  ${view.hasNext ? html`<a href="${link(view.page + 1)}" rel="next">Next page →</a>` : html``}
</nav>`;
}

function bulkForm(view: UsersView): SafeHtml {
  return html`<form method="post" action="/dashboard/users/bulk" id="bulk" class="row bulk" aria-label="Act on the selected users">
  ${csrfField(view.session)}
  <div class="field inline">
    <label for="bulk-action">With the selected users</label>
    <select id="bulk-action" name="action">
      <option value="deactivate">Deactivate</option>
      <option value="reactivate">Reactivate</option>
      <option value="delete">Delete</option>
      <option value="restore">Restore</option>
      <option value="export">Export</option>
    </select>
  </div>
  <div class="field inline">
    <label for="bulk-mode">Deletion</label>
    <select id="bulk-mode" name="mode" aria-describedby="bulk-mode-hint">
      <option value="soft">soft</option>
      <option value="pruning">pruning</option>
      <option value="hard">hard</option>
    </select>
    <span class="hint" id="bulk-mode-hint">for Delete only</span>
  </div>
  <button type="submit">Review…</button>
</form>`;
}

export function usersPage(view: UsersView): string {
  const results =
    view.users.length === 0
      ? html`<p id="results-empty">No users match.</p>`
      : html`<table class="users">
  <caption>Users${view.search.deleted ? ' (deleted ones included)' : ''}, page ${view.page}</caption>
  <thead><tr>
    <th scope="col"><span class="visually-hidden">Select</span></th>
    <th scope="col">ID</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Teams</th>
    <th scope="col">State</th><th scope="col">Created</th><th scope="col">Last active</th>
  </tr></thead>
  <tbody>${view.users.map((user) => row(user, view.nowMs))}</tbody>
</table>`;
  return page({
    title: 'Users',
    section: 'users',
    session: view.session,
    notice: view.notice,
    error: view.error,
    body: html`<h1>Users</h1>
${searchForm(view.search)}
<section aria-labelledby="results-heading">
  <h2 id="results-heading">Results</h2>
  ${view.users.length > 0 ? bulkForm(view) : html``}
  <div class="table-wrap">${results}</div>
  ${pager(view)}
</section>`,
  });
}
