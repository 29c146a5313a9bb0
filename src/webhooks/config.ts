// The webhook configuration of the app settings (updateApp / getApp, as node-sdk 0.7.64 declares it): a single
// `webhook_url` with its `webhook_events`, and `event_hooks`. Hooks of type "webhook" are delivered; every other hook
// type (pending_message, sqs, sns, …) is stored as given and returned, so that an app configured for Stream round-trips
// unchanged, but never delivered.
import { randomUUID } from 'node:crypto';
import { inputError } from '../http/errors.js';
import { isPlainObject } from '../lib/json.js';

/** A hook as stored: what was sent, plus an id and timestamps (RFC3339). */
export type StoredHook = Record<string, unknown> & { id: string; hook_type: string; created_at: string; updated_at: string };

/** Where one event type is delivered: a URL, with the hook's own timeout. */
export interface DeliveryTarget {
  /** Stable per hook: the event hook's id, or APP_WEBHOOK_ID for `webhook_url`. */
  hookId: string;
  url: string;
  timeoutMs: number;
}

export const APP_WEBHOOK_ID = 'webhook_url';
export const DEFAULT_TIMEOUT_MS = 6_000;
const MAX_HOOKS = 50;
const MAX_EVENT_TYPES = 500;
const MAX_HOOK_BYTES = 16 * 1024;
const TIMEOUT_RANGE = { min: 100, max: 60_000 };

/** A URL webhooks may be sent to: absolute, http or https. Undefined when it is not one. */
export function webhookUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? value : undefined;
  } catch {
    return undefined;
  }
}

function eventTypes(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_EVENT_TYPES || value.some((type) => typeof type !== 'string' || type === '' || type.length > 128)) {
    throw inputError(`${field} must be a list of at most ${MAX_EVENT_TYPES} event type names`);
  }
  return [...new Set(value as string[])];
}

/** `webhook_url` of an updateApp: a URL, or "" / null to remove it. */
export function checkWebhookUrl(value: unknown): string | null {
  if (value === null || value === '') return null;
  const url = webhookUrl(value);
  if (url === undefined) throw inputError('webhook_url must be an absolute http or https URL');
  return url;
}

export function checkWebhookEvents(value: unknown): string[] {
  return eventTypes(value, 'webhook_events');
}

/**
 * `event_hooks` of an updateApp: the list replaces the stored one. A hook keeps its id and created_at when it names an
 * id stored before; otherwise it gets new ones. Hooks of type "webhook" are checked (webhook_url, event_types,
 * enabled, timeout_ms); others are kept as given.
 */
export function checkEventHooks(value: unknown, stored: readonly StoredHook[], now: string): StoredHook[] {
  if (value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_HOOKS) throw inputError(`event_hooks must be a list of at most ${MAX_HOOKS} hooks`);
  const before = new Map(stored.map((hook) => [hook.id, hook]));
  return value.map((hook, i) => {
    const field = `event_hooks[${i}]`;
    if (!isPlainObject(hook)) throw inputError(`${field} must be an object`);
    if (JSON.stringify(hook).length > MAX_HOOK_BYTES) throw inputError(`${field} is too large: at most ${MAX_HOOK_BYTES} bytes`);
    const { id, created_at: _created, updated_at: _updated, ...fields } = hook;
    const hookType = fields.hook_type ?? 'webhook';
    if (typeof hookType !== 'string' || hookType === '') throw inputError(`${field}.hook_type must be a string`);
    if (hookType === 'webhook') {
      if (webhookUrl(fields.webhook_url) === undefined) throw inputError(`${field}.webhook_url must be an absolute http or https URL`);
      if (fields.event_types !== undefined) fields.event_types = eventTypes(fields.event_types, `${field}.event_types`);
      if (fields.enabled !== undefined && typeof fields.enabled !== 'boolean') throw inputError(`${field}.enabled must be a boolean`);
      if (
        fields.timeout_ms !== undefined &&
        (!Number.isInteger(fields.timeout_ms) || (fields.timeout_ms as number) < TIMEOUT_RANGE.min || (fields.timeout_ms as number) > TIMEOUT_RANGE.max)
      ) {
        throw inputError(`${field}.timeout_ms must be a whole number of milliseconds from ${TIMEOUT_RANGE.min} to ${TIMEOUT_RANGE.max}`);
      }
    }
    const known = typeof id === 'string' ? before.get(id) : undefined;
    const hookId = typeof id === 'string' && id !== '' && id.length <= 64 ? id : randomUUID();
    return { ...fields, hook_type: hookType, id: hookId, created_at: known?.created_at ?? now, updated_at: now };
  });
}

/** Whether a hook listing `types` (empty: all) takes events of `type`. */
const takes = (types: unknown, type: string) => !Array.isArray(types) || types.length === 0 || types.includes(type);

/** Where events of `type` go: the app's webhook_url (if its webhook_events take it) and every enabled webhook hook that does. */
export function targetsFor(
  config: { webhook_url: string | null; webhook_events: readonly string[]; event_hooks: readonly StoredHook[] },
  type: string,
): DeliveryTarget[] {
  const targets: DeliveryTarget[] = [];
  if (config.webhook_url && takes(config.webhook_events, type)) {
    targets.push({ hookId: APP_WEBHOOK_ID, url: config.webhook_url, timeoutMs: DEFAULT_TIMEOUT_MS });
  }
  for (const hook of config.event_hooks) {
    if (hook.hook_type !== 'webhook' || hook.enabled === false || !takes(hook.event_types, type)) continue;
    const url = webhookUrl(hook.webhook_url);
    if (url) targets.push({ hookId: hook.id, url, timeoutMs: typeof hook.timeout_ms === 'number' ? hook.timeout_ms : DEFAULT_TIMEOUT_MS });
  }
  return targets;
}
