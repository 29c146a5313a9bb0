// The app page: settings (a change is checked as updateApp checks it, shown, then saved) and monthly active users.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { monthlyActiveUsersHistory } from '../../activity/service.js';
import { sameJson } from '../../lib/json.js';
import { parseRequestJson } from '../../limits.js';
import type { AppBody, AppQuery } from '../forms.js';
import { html } from '../html.js';
import { orRefusal, pageSession, redirect, sendHtml, type Dashboard } from '../page-kit.js';
import { appPage, settingsFormOf, type SettingsForm } from '../views/app.js';
import { confirmPage } from '../views/confirm.js';
import { noticeFor } from './notices.js';

function formOf(body: Static<typeof AppBody>): SettingsForm {
  return {
    revoke_tokens_issued_before: body.revoke_tokens_issued_before.trim(),
    guest_user_creation_disabled: Boolean(body.guest_user_creation_disabled),
    enforce_unique_usernames: body.enforce_unique_usernames,
    multi_tenant_enabled: Boolean(body.multi_tenant_enabled),
    webhook_url: body.webhook_url.trim(),
    webhook_events: body.webhook_events,
    event_hooks: body.event_hooks,
  };
}

const eventList = (text: string) => text.split(/[\s,]+/).filter((type) => type !== '');

/** updateApp's body for what the form changes (a field left as it was is not sent). */
function patchOf(form: SettingsForm, stored: SettingsForm, limits: Dashboard['ctx']['limits']): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  if (form.revoke_tokens_issued_before !== stored.revoke_tokens_issued_before) {
    patch.revoke_tokens_issued_before = form.revoke_tokens_issued_before === '' ? null : form.revoke_tokens_issued_before;
  }
  for (const key of ['guest_user_creation_disabled', 'multi_tenant_enabled', 'enforce_unique_usernames'] as const) {
    if (form[key] !== stored[key]) patch[key] = form[key];
  }
  if (form.webhook_url !== stored.webhook_url) patch.webhook_url = form.webhook_url === '' ? null : form.webhook_url;
  if (!sameJson(eventList(form.webhook_events), eventList(stored.webhook_events))) patch.webhook_events = eventList(form.webhook_events);
  const hooks = form.event_hooks.trim() === '' ? [] : parseRequestJson(form.event_hooks, limits, 'event_hooks');
  if (!sameJson(hooks, JSON.parse(stored.event_hooks))) patch.event_hooks = hooks;
  return patch;
}

export function appPages(dashboard: Dashboard) {
  const { route, ctx } = dashboard;

  async function render(request: FastifyRequest, reply: FastifyReply, options: { form?: SettingsForm; notice?: string; error?: string; status?: number }) {
    const [settings, months] = await Promise.all([ctx.settings.read(ctx.db), monthlyActiveUsersHistory(ctx.db, 12, new Date(Date.now()))]);
    return sendHtml(
      reply,
      appPage({ session: pageSession(request), apiKey: ctx.credentials().apiKey, form: options.form ?? settingsFormOf(settings), months, notice: options.notice, error: options.error }),
      options.status ?? 200,
    );
  }

  route('GET', '/app', { operation: 'GetApp' }, async (request, reply) =>
    render(request, reply, { notice: noticeFor((request.query as Static<typeof AppQuery>).notice) }),
  );

  route('POST', '/app', { operation: 'UpdateApp' }, async (request, reply) => {
    const body = request.body as Static<typeof AppBody>;
    const form = formOf(body);
    const stored = settingsFormOf(await ctx.settings.read(ctx.db));
    const confirmed = body.confirmed === 'yes';
    const outcome = await orRefusal(request, 'UpdateApp', async () => {
      const patch = patchOf(form, stored, ctx.limits);
      if (confirmed) await ctx.settings.update(patch);
      else await ctx.settings.check(patch);
      return patch;
    });
    if (!outcome.ok) return render(request, reply, { form, error: outcome.message, status: outcome.status });
    const patch = outcome.value;
    if (confirmed || Object.keys(patch).length === 0) return redirect(reply, `/dashboard/app?notice=${confirmed ? 'saved' : 'unchanged'}`);
    return sendHtml(
      reply,
      confirmPage({
        session: pageSession(request),
        section: 'app',
        title: 'Save these settings?',
        summary: html`<p>updateApp with:</p><pre class="json" tabindex="0" aria-label="The change">${JSON.stringify(patch, null, 2)}</pre>
<p>A change reaches every server process within a second.${'revoke_tokens_issued_before' in patch && patch.revoke_tokens_issued_before !== null ? ' Every user token issued before the cut-off, and every token without iat, will be refused.' : ''}</p>`,
        action: '/dashboard/app',
        fields: {
          revoke_tokens_issued_before: body.revoke_tokens_issued_before,
          guest_user_creation_disabled: body.guest_user_creation_disabled,
          enforce_unique_usernames: body.enforce_unique_usernames,
          multi_tenant_enabled: body.multi_tenant_enabled,
          webhook_url: body.webhook_url,
          webhook_events: body.webhook_events,
          event_hooks: body.event_hooks,
        },
        confirmLabel: 'Yes, save',
        cancelHref: '/dashboard/app',
      }),
    );
  });
}
