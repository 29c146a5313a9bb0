// The webhooks page: per hook, deliveries pending, failed and cancelled, the oldest pending, the last error (URLs and
// errors without query values); its failed deliveries; and the operator's actions: retry one or all failed deliveries
// of a hook now, cancel its pending ones (after a confirmation).
import type { FailedDelivery, HookReport, WebhookReport } from '../../webhooks/service.js';
import { html, segment, type SafeHtml } from '../html.js';
import { time } from './format.js';
import { csrfField, page, type PageSession } from './layout.js';

export interface WebhooksView {
  session: PageSession;
  report: WebhookReport;
  failed: Map<string, FailedDelivery[]>;
  notice?: string;
  error?: string;
}

function seconds(value: number): string {
  if (value === 0) return '—';
  if (value < 60) return `${Math.round(value)} s`;
  if (value < 3600) return `${Math.round(value / 60)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

function hookState(hook: HookReport): SafeHtml {
  if (!hook.configured) return html`<span class="badge deleted">removed</span>`;
  return hook.enabled ? html`<span class="badge task-completed">enabled</span>` : html`<span class="badge deactivated">paused</span>`;
}

function actionForm(session: PageSession, action: string, label: string, fields: Record<string, string> = {}, danger = false): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">
  ${csrfField(session)}
  ${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
  <button type="submit"${danger ? html` class="danger"` : html``}>${label}</button>
</form>`;
}

function hookSection(view: WebhooksView, hook: HookReport): SafeHtml {
  const base = `/dashboard/webhooks/${segment(hook.id)}`;
  const failed = view.failed.get(hook.id) ?? [];
  const rows = failed.map(
    (delivery) => html`<tr>
  <td><code>${delivery.id}</code></td>
  <td>${delivery.user_id ?? ''}</td>
  <td>${delivery.event_type}</td>
  <td>${time(delivery.created_at)}</td>
  <td>${delivery.attempts}</td>
  <td>${delivery.last_error ?? ''}</td>
  <td>${actionForm(view.session, `${base}/retry`, 'Retry now', { delivery_id: delivery.id })}</td>
</tr>`,
  );
  const list =
    failed.length === 0
      ? html`<p>No failed deliveries.</p>`
      : html`<div class="table-wrap"><table>
  <caption>Failed deliveries of ${hook.id}, newest first${failed.length < hook.failed ? ` (${failed.length} of ${hook.failed})` : ''}</caption>
  <thead><tr><th scope="col">Delivery (X-Webhook-Id)</th><th scope="col">User</th><th scope="col">Event</th><th scope="col">Recorded</th><th scope="col">Attempts</th><th scope="col">Error</th><th scope="col">Action</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`;
  return html`<section aria-labelledby="hook-${hook.id}">
  <h2 id="hook-${hook.id}">${hook.id} ${hookState(hook)}</h2>
  <dl class="facts">
    <dt>URL</dt><dd>${hook.url === '' ? html`<span class="muted">(no longer configured)</span>` : html`<code>${hook.url}</code>`}</dd>
    <dt>Event types</dt><dd>${hook.event_types.length === 0 ? 'all' : hook.event_types.join(', ')}</dd>
    <dt>Pending</dt><dd>${hook.pending} (oldest ${seconds(hook.oldest_pending_seconds)})</dd>
    <dt>Failed</dt><dd>${hook.failed}</dd>
    <dt>Cancelled</dt><dd>${hook.cancelled}</dd>
    <dt>Last error</dt><dd>${hook.last_error ?? html`<span class="muted">none</span>`}${hook.last_error_at ? html` <span class="muted small">(${hook.last_error_at})</span>` : html``}</dd>
  </dl>
  <div class="row">
    ${hook.failed > 0 ? actionForm(view.session, `${base}/retry`, `Retry all ${hook.failed} failed now`) : html``}
    ${hook.pending > 0 ? actionForm(view.session, `${base}/cancel`, `Cancel ${hook.pending} pending…`, {}, true) : html``}
  </div>
  ${list}
</section>`;
}

export function webhooksPage(view: WebhooksView): string {
  const { report } = view;
  return page({
    title: 'Webhooks',
    section: 'webhooks',
    session: view.session,
    notice: view.notice,
    error: view.error,
    body: html`<h1>Webhooks</h1>
<p>Deliveries by hook: ${report.pending} pending, ${report.failed} failed and ${report.cancelled} cancelled in all. A paused (disabled) hook keeps its
deliveries until it is enabled again; hooks are configured on the <a href="/dashboard/app">App</a> page.</p>
${report.hooks.length === 0 ? html`<p>No webhook is configured.</p>` : report.hooks.map((hook) => hookSection(view, hook))}`,
  });
}
