// Schemas of this server's webhook extension (GET /operator/webhooks). The configuration's schemas are the app
// settings' (app-settings/schemas.ts).
import { Type } from '@sinclair/typebox';
import { Duration } from '../http/schemas.js';

export const WebhookDeliveriesResponse = Type.Object(
  {
    pending: Type.Integer({ description: 'waiting for an attempt, or being sent' }),
    delivered: Type.Integer(),
    failed: Type.Integer({ description: 'given up after their retries' }),
    oldest_pending_seconds: Type.Number({ description: 'age of the oldest pending delivery; 0 when none is pending' }),
    duration: Duration,
  },
  { $id: 'WebhookDeliveriesResponse', title: 'WebhookDeliveriesResponse' },
);

export const webhooksSchemas = [WebhookDeliveriesResponse];
