// Schemas of this server's webhook extension (GET /operator/webhooks). The configuration's schemas are the app
// settings' (app-settings/schemas.ts).
import { Type } from '@sinclair/typebox';
import { Duration } from '../http/schemas.js';

const HookDeliveries = Type.Object(
  {
    id: Type.String({ description: 'the event hook\'s id; "webhook_url" for the app\'s webhook_url' }),
    url: Type.String({ description: 'the URL configured now, without its query values; "" for a hook no longer configured' }),
    enabled: Type.Boolean({ description: 'false: paused, its deliveries wait (within their age limit)' }),
    configured: Type.Boolean({ description: 'false: removed from the configuration, listed while it has deliveries kept' }),
    event_types: Type.Array(Type.String(), { description: 'empty: all' }),
    pending: Type.Integer({ description: 'waiting for an attempt, or being sent' }),
    failed: Type.Integer({ description: 'given up (refused by the receiver, or retried for their age limit), within the retention window' }),
    cancelled: Type.Integer({ description: 'cancelled (hook removed, event type taken out, or by the operator), within the retention window' }),
    oldest_pending_seconds: Type.Number({ description: 'age of the oldest pending delivery; 0 when none is pending' }),
    last_error: Type.Union([Type.String(), Type.Null()], { description: 'the last failed attempt, without the URL\'s query values' }),
    last_error_at: Type.Union([Type.String(), Type.Null()], { description: 'RFC3339' }),
  },
  { $id: 'WebhookHookDeliveries', title: 'WebhookHookDeliveries' },
);

export const WebhookDeliveriesResponse = Type.Object(
  {
    pending: Type.Integer({ description: 'waiting for an attempt, or being sent, all hooks together' }),
    failed: Type.Integer(),
    cancelled: Type.Integer(),
    oldest_pending_seconds: Type.Number({ description: 'age of the oldest pending delivery; 0 when none is pending' }),
    hooks: Type.Array(Type.Ref(HookDeliveries)),
    duration: Duration,
  },
  { $id: 'WebhookDeliveriesResponse', title: 'WebhookDeliveriesResponse' },
);

export const webhooksSchemas = [HookDeliveries, WebhookDeliveriesResponse];
