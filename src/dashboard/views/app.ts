// The app page: the settings this server honours, editable (each change confirmed first), and monthly active users
// of the last 12 months as a bar chart (inline SVG, with its numbers as text for those who cannot see it).
import type { AppSettings } from '../../app-settings/service.js';
import { microsToRfc3339 } from '../../db/timestamps.js';
import { html, type SafeHtml } from '../html.js';
import { prettyJson } from './format.js';
import { csrfField, page, type PageSession } from './layout.js';

export interface MonthCount {
  month: string;
  active_users: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function monthLabel(month: string): string {
  return `${MONTHS[Number(month.slice(5, 7)) - 1]} ${month.slice(2, 4)}`;
}

/** A bar per month; the scale starts at 0 and ends at the largest count (at least 1). */
export function activeUsersChart(months: MonthCount[]): SafeHtml {
  const width = 720;
  const height = 240;
  const top = 24;
  const bottom = 36;
  const left = 8;
  const slot = (width - left * 2) / Math.max(months.length, 1);
  const barWidth = Math.max(4, slot * 0.6);
  const max = Math.max(1, ...months.map((m) => m.active_users));
  const plot = height - top - bottom;
  const bars = months.map((m, i) => {
    const h = Math.round((m.active_users / max) * plot);
    const x = left + i * slot + (slot - barWidth) / 2;
    const y = top + plot - h;
    const cx = (x + barWidth / 2).toFixed(1);
    return html`<g>
    <rect x="${x.toFixed(1)}" y="${y}" width="${barWidth.toFixed(1)}" height="${Math.max(h, 1)}" class="bar"></rect>
    <text x="${cx}" y="${y - 6}" text-anchor="middle" class="count">${m.active_users}</text>
    <text x="${cx}" y="${height - 14}" text-anchor="middle" class="month">${monthLabel(m.month)}</text>
  </g>`;
  });
  const first = months[0]?.month ?? '';
  const last = months.at(-1)?.month ?? '';
  const description = `Monthly active users from ${first} to ${last}: ${months.map((m) => `${m.month}: ${m.active_users}`).join(', ')}.`;
  return html`<figure class="chart">
  <svg viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="mau-title mau-desc" focusable="false" preserveAspectRatio="xMidYMid meet">
    <title id="mau-title">Monthly active users, last 12 months</title>
    <desc id="mau-desc">${description}</desc>
    <line x1="${left}" y1="${top + plot + 0.5}" x2="${width - left}" y2="${top + plot + 0.5}" class="axis"></line>
    ${bars}
  </svg>
  <figcaption>Distinct users who made a user-token request or connected in each calendar month (UTC); guests count, anonymous callers never do.</figcaption>
</figure>
<details>
  <summary>The numbers</summary>
  <table class="compact">
    <caption>Monthly active users</caption>
    <thead><tr><th scope="col">Month</th><th scope="col">Active users</th></tr></thead>
    <tbody>${months.map((m) => html`<tr><td>${m.month}</td><td>${m.active_users}</td></tr>`)}</tbody>
  </table>
</details>`;
}

/** The settings form's fields as text, from the stored settings or from a form sent back. */
export interface SettingsForm {
  revoke_tokens_issued_before: string;
  guest_user_creation_disabled: boolean;
  enforce_unique_usernames: string;
  multi_tenant_enabled: boolean;
  webhook_url: string;
  webhook_events: string;
  event_hooks: string;
}

export function settingsFormOf(settings: AppSettings): SettingsForm {
  return {
    revoke_tokens_issued_before: settings.revoke_tokens_issued_before === null ? '' : microsToRfc3339(settings.revoke_tokens_issued_before),
    guest_user_creation_disabled: settings.guest_user_creation_disabled,
    enforce_unique_usernames: settings.enforce_unique_usernames,
    multi_tenant_enabled: settings.multi_tenant_enabled,
    webhook_url: settings.webhook_url ?? '',
    webhook_events: settings.webhook_events.join(', '),
    event_hooks: settings.event_hooks.length === 0 ? '[]' : prettyJson(settings.event_hooks),
  };
}

function settingsForm(session: PageSession, form: SettingsForm): SafeHtml {
  const checked = (on: boolean) => (on ? html` checked` : html``);
  return html`<form method="post" action="/dashboard/app" class="stack">
  ${csrfField(session)}
  <div class="field">
    <label for="app-revoke">Revoke tokens issued before</label>
    <input id="app-revoke" name="revoke_tokens_issued_before" type="text" spellcheck="false" value="${form.revoke_tokens_issued_before}" aria-describedby="app-revoke-hint">
    <span class="hint" id="app-revoke-hint">An RFC3339 date-time (e.g. 2026-11-29T12:00:00Z): every user token issued before it, or without iat, is refused (code 40). Empty: none.</span>
  </div>
  <div class="check">
    <input id="app-guests" name="guest_user_creation_disabled" type="checkbox" value="on"${checked(form.guest_user_creation_disabled)}>
    <label for="app-guests">Guest user creation disabled</label>
  </div>
  <div class="field">
    <label for="app-unique">Unique usernames</label>
    <select id="app-unique" name="enforce_unique_usernames">
      ${(['no', 'app', 'team'] as const).map((mode) => html`<option value="${mode}"${form.enforce_unique_usernames === mode ? html` selected` : html``}>${mode === 'no' ? 'no: names may repeat' : mode === 'app' ? 'app: unique in the app' : 'team: unique in each team'}</option>`)}
    </select>
  </div>
  <div class="check">
    <input id="app-tenant" name="multi_tenant_enabled" type="checkbox" value="on"${checked(form.multi_tenant_enabled)}>
    <label for="app-tenant">Multi-tenant (client-side calls see only users sharing a team)</label>
  </div>
  <div class="field">
    <label for="app-webhook">Webhook URL</label>
    <input id="app-webhook" name="webhook_url" type="text" spellcheck="false" value="${form.webhook_url}" aria-describedby="app-webhook-hint">
    <span class="hint" id="app-webhook-hint">Absolute http or https URL; empty: none.</span>
  </div>
  <div class="field">
    <label for="app-events">Its event types</label>
    <input id="app-events" name="webhook_events" type="text" spellcheck="false" value="${form.webhook_events}" aria-describedby="app-events-hint">
    <span class="hint" id="app-events-hint">Separated by commas, e.g. user.updated, user.deleted; empty: all.</span>
  </div>
  <div class="field">
    <label for="app-hooks">Event hooks (JSON list)</label>
    <textarea id="app-hooks" name="event_hooks" rows="6" spellcheck="false" aria-describedby="app-hooks-hint">${form.event_hooks}</textarea>
    <span class="hint" id="app-hooks-hint">As updateApp's event_hooks: replaces the stored list; a hook sent back with its id keeps its created_at.</span>
  </div>
  <div><button type="submit">Review changes…</button></div>
</form>`;
}

export interface AppView {
  session: PageSession;
  apiKey: string;
  form: SettingsForm;
  months: MonthCount[];
  notice?: string;
  error?: string;
}

export function appPage(view: AppView): string {
  return page({
    title: 'App',
    section: 'app',
    session: view.session,
    notice: view.notice,
    error: view.error,
    body: html`<h1>App <code>${view.apiKey}</code></h1>
<section aria-labelledby="mau-heading">
  <h2 id="mau-heading">Monthly active users</h2>
  ${activeUsersChart(view.months)}
</section>
<section aria-labelledby="settings-heading">
  <h2 id="settings-heading">Settings</h2>
  <p>The settings this server honours (as <code>GET</code>/<code>PATCH /api/v2/app</code> has them). A change made here reaches every server process within a second.</p>
  ${settingsForm(view.session, view.form)}
</section>`,
  });
}
