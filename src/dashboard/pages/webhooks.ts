// The webhooks page and the operator's actions on a hook's deliveries: retry failed ones now (one, or all), cancel the
// pending ones (after a confirmation). Each action passed the plugin's CSRF check, and is logged with what it did.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { cancelPendingDeliveries, currentWebhookReport, failedDeliveries, retryFailedDeliveries, webhookHookReport } from '../../webhooks/service.js';
import type { HookParams, RetryBody, CancelBody, WebhooksQuery } from '../forms.js';
import { noticeFor } from './notices.js';
import { orRefusal, pageSession, redirect, sendHtml, type Dashboard } from '../page-kit.js';
import { confirmPage } from '../views/confirm.js';
import { webhooksPage } from '../views/webhooks.js';
import { html } from '../html.js';

const FAILED_SHOWN = 20;

export function webhookPages(dashboard: Dashboard) {
  const { route, ctx } = dashboard;

  async function render(request: FastifyRequest, reply: FastifyReply, options: { notice?: string; error?: string; status?: number } = {}) {
    const report = await currentWebhookReport(ctx.db, ctx.settings);
    const failed = new Map(
      await Promise.all(report.hooks.filter((hook) => hook.failed > 0).map(async (hook) => [hook.id, await failedDeliveries(ctx.db, ctx.settings, hook.id, FAILED_SHOWN)] as const)),
    );
    return sendHtml(reply, webhooksPage({ session: pageSession(request), report, failed, ...options }), options.status);
  }

  route('GET', '/webhooks', { operation: 'GetWebhookDeliveries' }, async (request, reply) =>
    render(request, reply, { notice: noticeFor((request.query as Static<typeof WebhooksQuery>).notice) }),
  );

  route('POST', '/webhooks/:hook_id/retry', { operation: 'RetryWebhookDeliveries' }, async (request, reply) => {
    const { hook_id: hookId } = request.params as Static<typeof HookParams>;
    const { delivery_id: deliveryId } = request.body as Static<typeof RetryBody>;
    const outcome = await orRefusal(request, 'RetryWebhookDeliveries', () => retryFailedDeliveries(ctx.db, ctx.settings, hookId, deliveryId || undefined));
    if (!outcome.ok) return render(request, reply, { error: outcome.message, status: outcome.status });
    request.log.info({ operator: 'dashboard', action: 'retry webhook deliveries', hook: hookId, delivery: deliveryId || 'all failed', retried: outcome.value }, 'operator retried webhook deliveries');
    return redirect(reply, `/dashboard/webhooks?notice=${outcome.value > 0 ? 'webhooks-retried' : 'unchanged'}`);
  });

  route('POST', '/webhooks/:hook_id/cancel', { operation: 'CancelWebhookDeliveries' }, async (request, reply) => {
    const { hook_id: hookId } = request.params as Static<typeof HookParams>;
    const body = request.body as Static<typeof CancelBody>;
    if (body.confirmed !== 'yes') {
      const found = await orRefusal(request, 'CancelWebhookDeliveries', () => webhookHookReport(ctx.db, ctx.settings, hookId));
      if (!found.ok) return render(request, reply, { error: found.message, status: found.status });
      const hook = found.value;
      return sendHtml(
        reply,
        confirmPage({
          session: pageSession(request),
          section: 'webhooks',
          title: `Cancel the pending deliveries of ${hookId}?`,
          summary: html`<p>Its ${hook.pending} pending deliveries will never be sent (those being sent now finish their attempt). Events recorded from now on are delivered as usual. To hold deliveries back without losing them, disable the hook instead.</p>`,
          action: `/dashboard/webhooks/${encodeURIComponent(hookId)}/cancel`,
          fields: {},
          confirmLabel: 'Yes, cancel them',
          cancelHref: '/dashboard/webhooks',
          danger: true,
        }),
      );
    }
    const outcome = await orRefusal(request, 'CancelWebhookDeliveries', () => cancelPendingDeliveries(ctx.db, ctx.settings, hookId));
    if (!outcome.ok) return render(request, reply, { error: outcome.message, status: outcome.status });
    request.log.info({ operator: 'dashboard', action: 'cancel webhook deliveries', hook: hookId, cancelled: outcome.value }, 'operator cancelled pending webhook deliveries');
    return redirect(reply, `/dashboard/webhooks?notice=${outcome.value > 0 ? 'webhooks-cancelled' : 'unchanged'}`);
  });
}
