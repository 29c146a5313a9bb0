// The tasks: a list (newest first) and a task's page, whose status part reloads itself through htmx every second
// until the task is completed or failed (and, without scripts, the whole page every few seconds).
import type { Micros } from '../../db/schema.js';
import type { TaskRecord, TaskSummary } from '../../tasks/store.js';
import { taskTypeEntry } from '../../tasks/table.js';
import { html, segment, type SafeHtml } from '../html.js';
import { ago, prettyJson, time } from './format.js';
import { page, type PageSession } from './layout.js';

const DONE = new Set(['completed', 'failed']);

export function isDone(status: string): boolean {
  return DONE.has(status);
}

function statusBadge(status: string): SafeHtml {
  return html`<span class="badge task-${status}">${status}</span>`;
}

function age(micros: Micros, nowMs: number): SafeHtml {
  return html`<span title="${ago(micros, nowMs)}">${ago(micros, nowMs)}</span>`;
}

export interface TasksView {
  session: PageSession;
  tasks: TaskSummary[];
  page: number;
  hasNext: boolean;
  nowMs: number;
}

export function tasksPage(view: TasksView): string {
  const rows = view.tasks.map(
    (task) => html`<tr>
  <td><a href="/dashboard/tasks/${segment(task.id)}"><code>${task.id}</code></a></td>
  <td>${task.type}</td>
  <td>${statusBadge(task.status)}</td>
  <td>${age(task.created_at, view.nowMs)} <span class="muted small">(${time(task.created_at)})</span></td>
  <td>${task.attempts} of ${task.max_attempts}</td>
  <td>${time(task.updated_at)}</td>
</tr>`,
  );
  const table =
    view.tasks.length === 0
      ? html`<p>No tasks${view.page > 1 ? ' on this page' : ' yet'}.</p>`
      : html`<div class="table-wrap"><table>
  <caption>Tasks, newest first, page ${view.page}</caption>
  <thead><tr><th scope="col">Task</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Age</th><th scope="col">Attempts</th><th scope="col">Updated</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`;
  return page({
    title: 'Tasks',
    section: 'tasks',
    session: view.session,
    body: html`<h1>Tasks</h1>
<p>Bulk deactivation, reactivation, deletion and exports run as tasks: a worker in any server process claims them.</p>
${table}
<nav class="pager" aria-label="Pages of tasks">
  ${view.page > 1 ? html`<a href="/dashboard/tasks${view.page === 2 ? '' : `?page=${view.page - 1}`}" rel="prev">← Newer</a>` : html``}
  <span>Page ${view.page}</span>
  ${view.hasNext ? html`<a href="/dashboard/tasks?page=${view.page + 1}" rel="next">Older →</a>` : html``}
</nav>`,
  });
}

export interface TaskView {
  session: PageSession;
  task: TaskRecord;
  /** The task as GetTask answers it (v1 representation), parsed: its result or error. */
  answer: { result?: unknown; error?: { type?: string; description?: string } };
  nowMs: number;
}

function payloadUsers(task: TaskRecord): string[] {
  const ids = (task.payload as { user_ids?: unknown }).user_ids;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
}

/** The part of a task's page that reloads itself until the task is done. */
export function taskStatus(view: TaskView): SafeHtml {
  const { task, answer } = view;
  const done = isDone(task.status);
  const poll = done ? html`` : html` hx-get="/dashboard/tasks/${segment(task.id)}/status" hx-trigger="every 1s" hx-swap="outerHTML"`;
  const url = taskTypeEntry(task.type)?.result === 'export-file' && task.status === 'completed' ? (answer.result as { url?: unknown } | undefined)?.url : undefined;
  const users = payloadUsers(task);
  return html`<div id="task-status" class="task-status"${poll}>
  <dl class="fields">
    <dt>Status</dt><dd id="task-state">${statusBadge(task.status)}${done ? html`` : html` <span class="muted">(this part refreshes itself until the task is done)</span>`}</dd>
    <dt>Type</dt><dd>${task.type}</dd>
    <dt>Attempts</dt><dd>${task.attempts} of ${task.max_attempts}</dd>
    <dt>Created</dt><dd>${time(task.created_at)} <span class="muted">(${ago(task.created_at, view.nowMs)})</span></dd>
    <dt>Updated</dt><dd>${time(task.updated_at)}</dd>
    <dt>Users</dt><dd>${users.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="inline-list">${users.map((id) => html`<li><a href="/dashboard/users/${segment(id)}">${id}</a></li>`)}</ul>`}</dd>
  </dl>
  ${typeof url === 'string' ? html`<p><a href="${url}" id="download" class="button" download>Download the export</a> <span class="muted small">(a signed link, valid for 24 hours)</span></p>` : html``}
  ${answer.error ? html`<h2>Error</h2><div class="alert error" role="alert"><p>${answer.error.type ?? 'error'}: ${answer.error.description ?? ''}</p></div>` : html``}
  ${answer.result !== undefined ? html`<h2 id="result-heading">Result</h2><pre class="json" id="task-result" tabindex="0" aria-labelledby="result-heading">${prettyJson(answer.result)}</pre>` : html``}
</div>`;
}

export function taskPage(view: TaskView): string {
  return page({
    title: `Task ${view.task.id}`,
    section: 'tasks',
    session: view.session,
    refreshWithoutScript: !isDone(view.task.status),
    body: html`<p class="crumbs"><a href="/dashboard/tasks">Tasks</a> › ${view.task.id}</p>
<h1>${view.task.type} task</h1>
<p><code>${view.task.id}</code></p>
${taskStatus(view)}`,
  });
}
