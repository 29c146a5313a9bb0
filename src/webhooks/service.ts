// Webhook events, recorded by the services that cause them: inside the same transaction as the change, so that no
// committed change goes without its events and no rolled-back one has any. Rows are written only when an enabled hook
// takes the event type, so that an app without webhooks pays nothing on its write path.
import { randomUUID } from 'node:crypto';
import type { AppSettingsCache } from '../app-settings/service.js';
import type { Db, Tx } from '../db/schema.js';
import { targetsFor, type DeliveryTarget } from './config.js';
import type { UserEvent, UserEventType } from './events.js';
import { countDeliveries, insertDeliveries, purgeDeliveries, type DeliveryCounts, type NewDelivery } from './store.js';

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
        deliveries.push({ id: randomUUID(), hookId: target.hookId, userId: event.userId, url: target.url, timeoutMs: target.timeoutMs, body: event.body });
      }
    }
    await insertDeliveries(trx, deliveries);
  }
}

/** GET /operator/webhooks: deliveries by state. */
export function webhookDeliveryCounts(db: Db): Promise<DeliveryCounts> {
  return countDeliveries(db);
}

/** Housekeeping: delivered and failed deliveries past the retention window. */
export function purgeOldDeliveries(db: Db, retentionMs: number): Promise<number> {
  return purgeDeliveries(db, retentionMs);
}
export type { DeliveryCounts } from './store.js';
