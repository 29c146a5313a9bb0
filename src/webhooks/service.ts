// Webhook events, recorded by the services that cause them: inside the same transaction as the change, so that no
// committed change goes without its events and no rolled-back one has any. Rows are written only when a hook takes the
// event type, so that an app without webhooks pays nothing on its write path. And what the operator sees and does:
// per-hook counts, failed deliveries, "retry now", "cancel pending"; and what a configuration change does to the
// deliveries of hooks it removes or narrows.
import { randomUUID } from 'node:crypto';
import type { AppSettings, AppSettingsCache } from '../app-settings/service.js';
import type { Db, Tx } from '../db/schema.js';
import { microsToRfc3339 } from '../db/timestamps.js';
import { notFound } from '../http/errors.js';
import { deliverableHooks, displayUrl, HOOK_REMOVED, targetsFor, TYPE_NOT_TAKEN, withoutSecrets, type DeliverableHook, type DeliveryTarget } from './config.js';
import type { UserEvent, UserEventType } from './events.js';
import {
  cancelPending,
  countDeliveriesByHook,
  expirePending,
  hooksWithDeliveries,
  insertDeliveries,
  listFailed,
  purgeDeliveries,
  retryFailed,
  type FailedDelivery,
  type NewDelivery,
} from './store.js';

type HookConfig = Pick<AppSettings, 'webhook_url' | 'webhook_events' | 'event_hooks'>;

export class WebhookEvents {
  constructor(private readonly settings: AppSettingsCache) {}

  /** Where events of `type` go now. `db` reads the settings when they are not cached: a transaction's handle inside one. */
  async targets(db: Db, type: UserEventType): Promise<DeliveryTarget[]> {
    return targetsFor(await this.settings.current(db), type);
  }

  /** Whether any hook takes events of `type`: a write that would record none may skip the work of finding them. */
  async wanted(db: Db, type: UserEventType): Promise<boolean> {
    return (await this.targets(db, type)).length > 0;
  }

  /** Records events (one delivery per event and hook that takes it) in the transaction of their change. */
  async record(trx: Tx, events: readonly UserEvent[]): Promise<void> {
    if (events.length === 0) return;
    const deliveries: NewDelivery[] = [];
    const targetsByType = new Map<UserEventType, DeliveryTarget[]>();
    for (const event of events) {
      let targets = targetsByType.get(event.type);
      if (!targets) targetsByType.set(event.type, (targets = await this.targets(trx, event.type)));
      for (const target of targets) {
        deliveries.push({
          id: randomUUID(),
          hookId: target.hookId,
          userId: event.userId,
          eventType: event.type,
          displayUrl: displayUrl(target.url),
          body: event.body,
          endedBody: event.endedBody,
        });
      }
    }
    await insertDeliveries(trx, deliveries);
  }
}

/**
 * What a configuration change does to deliveries: a hook removed (or no longer a webhook) has its pending deliveries
 * cancelled; a hook whose event types were narrowed, those of the types it no longer takes. A hook disabled keeps them
 * (paused). Deliveries recorded meanwhile by an instance that had not yet seen the change are cancelled when claimed,
 * or by the housekeeping (`cancelOrphanedDeliveries`).
 */
export async function applyHookChanges(db: Db, before: HookConfig, after: HookConfig): Promise<void> {
  const now = new Map(deliverableHooks(after).map((hook) => [hook.hookId, hook]));
  for (const old of deliverableHooks(before)) {
    const current = now.get(old.hookId);
    if (!current) await cancelPending(db, old.hookId, HOOK_REMOVED);
    else if (current.eventTypes.length > 0 && (old.eventTypes.length === 0 || old.eventTypes.some((type) => !current.eventTypes.includes(type)))) {
      await cancelPending(db, old.hookId, TYPE_NOT_TAKEN, current.eventTypes);
    }
  }
}

/** Housekeeping: cancels the pending deliveries of hooks that are no longer configured. */
export async function cancelOrphanedDeliveries(db: Db, config: HookConfig): Promise<number> {
  const configured = new Set(deliverableHooks(config).map((hook) => hook.hookId));
  let cancelled = 0;
  for (const hookId of await hooksWithDeliveries(db)) {
    if (!configured.has(hookId)) cancelled += await cancelPending(db, hookId, HOOK_REMOVED);
  }
  return cancelled;
}

export interface HookReport {
  id: string;
  /** The hook's URL without its query values; "" for a hook no longer configured. */
  url: string;
  enabled: boolean;
  configured: boolean;
  event_types: string[];
  pending: number;
  failed: number;
  cancelled: number;
  oldest_pending_seconds: number;
  last_error: string | null;
  last_error_at: string | null;
}

export interface WebhookReport {
  pending: number;
  failed: number;
  cancelled: number;
  oldest_pending_seconds: number;
  hooks: HookReport[];
}

/** GET /operator/webhooks and the dashboard: per hook (configured ones, and removed ones that still have deliveries). */
export async function webhookReport(db: Db, config: HookConfig): Promise<WebhookReport> {
  const configured = deliverableHooks(config);
  const byId = new Map<string, DeliverableHook>(configured.map((hook) => [hook.hookId, hook]));
  const ids = [...new Set([...configured.map((hook) => hook.hookId), ...(await hooksWithDeliveries(db))])];
  const counts = new Map((await countDeliveriesByHook(db, ids)).map((row) => [row.hook_id, row]));
  const hooks = ids.map((id): HookReport => {
    const hook = byId.get(id);
    const row = counts.get(id);
    // Errors were recorded without the URL's secrets; the URL configured now is hidden too, should an old error hold it.
    const lastError = row?.last_error ? (hook ? withoutSecrets(row.last_error, hook.url) : row.last_error) : null;
    return {
      id,
      url: hook ? displayUrl(hook.url) : '',
      enabled: hook?.enabled ?? false,
      configured: hook !== undefined,
      event_types: [...(hook?.eventTypes ?? [])],
      pending: row?.pending ?? 0,
      failed: row?.failed ?? 0,
      cancelled: row?.cancelled ?? 0,
      oldest_pending_seconds: row?.oldest_pending_seconds ?? 0,
      last_error: lastError,
      last_error_at: row?.last_error_at ? microsToRfc3339(row.last_error_at) : null,
    };
  });
  return {
    pending: hooks.reduce((sum, hook) => sum + hook.pending, 0),
    failed: hooks.reduce((sum, hook) => sum + hook.failed, 0),
    cancelled: hooks.reduce((sum, hook) => sum + hook.cancelled, 0),
    oldest_pending_seconds: hooks.reduce((oldest, hook) => Math.max(oldest, hook.oldest_pending_seconds), 0),
    hooks,
  };
}

/** The operator's report of the configuration as stored now. */
export async function currentWebhookReport(db: Db, settings: AppSettingsCache): Promise<WebhookReport> {
  return webhookReport(db, await settings.read(db));
}

/** One hook's report; code 16 when no hook of that id is configured or has deliveries kept. */
export async function webhookHookReport(db: Db, settings: AppSettingsCache, hookId: string): Promise<HookReport> {
  const hook = (await currentWebhookReport(db, settings)).hooks.find((h) => h.id === hookId);
  if (!hook) throw notFound(`webhook hook "${hookId}" does not exist`);
  return hook;
}

async function knownHook(db: Db, settings: AppSettingsCache, hookId: string): Promise<void> {
  await webhookHookReport(db, settings, hookId);
}

/** "Retry now": one failed delivery of a hook, or all of them. Returns how many are due again. */
export async function retryFailedDeliveries(db: Db, settings: AppSettingsCache, hookId: string, deliveryId?: string): Promise<number> {
  await knownHook(db, settings, hookId);
  return retryFailed(db, hookId, deliveryId);
}

/** "Cancel pending": every pending delivery of a hook (those being sent finish their attempt). */
export async function cancelPendingDeliveries(db: Db, settings: AppSettingsCache, hookId: string): Promise<number> {
  await knownHook(db, settings, hookId);
  return cancelPending(db, hookId, 'cancelled by the operator');
}

/** A hook's most recent failed deliveries, their errors without the URL's secrets. */
export async function failedDeliveries(db: Db, settings: AppSettingsCache, hookId: string, limit = 50): Promise<FailedDelivery[]> {
  const hook = deliverableHooks(await settings.read(db)).find((h) => h.hookId === hookId);
  const rows = await listFailed(db, hookId, limit);
  return hook ? rows.map((row) => ({ ...row, last_error: row.last_error && withoutSecrets(row.last_error, hook.url) })) : rows;
}

/** Housekeeping: delivered, failed and cancelled deliveries past the retention window, in bounded batches. */
export function purgeOldDeliveries(db: Db, retentionMs: number): Promise<number> {
  return purgeDeliveries(db, retentionMs);
}
export type { FailedDelivery } from './store.js';

export interface DeliveryTotals {
  pending: number;
  failed: number;
  cancelled: number;
  oldest_pending_seconds: number;
}

/** The metrics' gauges: totals over the hooks that have deliveries, counted through the partial indexes. */
export async function webhookDeliveryTotals(db: Db): Promise<DeliveryTotals> {
  const rows = await countDeliveriesByHook(db, await hooksWithDeliveries(db));
  return {
    pending: rows.reduce((sum, row) => sum + row.pending, 0),
    failed: rows.reduce((sum, row) => sum + row.failed, 0),
    cancelled: rows.reduce((sum, row) => sum + row.cancelled, 0),
    oldest_pending_seconds: rows.reduce((oldest, row) => Math.max(oldest, row.oldest_pending_seconds), 0),
  };
}

/**
 * Housekeeping: a paused (disabled) hook's deliveries wait within their age limit; past it they fail, as they would
 * have had the hook been retrying them.
 */
export async function expirePausedDeliveries(ctx: { db: Db; settings: AppSettingsCache }, maxAgeMs: number): Promise<number> {
  let expired = 0;
  for (const hook of deliverableHooks(await ctx.settings.read(ctx.db))) {
    if (!hook.enabled) expired += await expirePending(ctx.db, hook.hookId, maxAgeMs, 'past the age limit while its hook was paused');
  }
  return expired;
}

/** Housekeeping: the pending deliveries of hooks no longer configured (recorded by an instance that had not seen the change). */
export async function cancelOrphanedWebhookDeliveries(ctx: { db: Db; settings: AppSettingsCache }): Promise<number> {
  return cancelOrphanedDeliveries(ctx.db, await ctx.settings.read(ctx.db));
}
