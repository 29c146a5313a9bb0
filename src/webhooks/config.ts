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

/**
 * A URL webhooks may be sent to: absolute, http or https, without credentials (Node's fetch refuses `user:pass@`, so
 * such a URL could never be delivered, and its password would end up in errors and logs). Undefined when it is not one.
 */
export function webhookUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  try {
    const url = new URL(value);
    if (url.username !== '' || url.password !== '') return undefined;
    return url.protocol === 'http:' || url.protocol === 'https:' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Why `value` is not a URL webhooks may be sent to, for the refusal's message. */
function urlRefusal(value: unknown, field: string): string {
  if (typeof value === 'string' && value.length <= 2048 && URL.canParse(value)) {
    const url = new URL(value);
    if (url.username !== '' || url.password !== '') return `${field} must not hold credentials (user:password@): put a token in the query string or check X-Signature instead`;
  }
  return `${field} must be an absolute http or https URL`;
}

/**
 * A webhook URL as the operator reads it (outbox rows, last errors, logs, /operator/webhooks): the query string may hold
 * the receiver's token, so its values are left out (the names stay); credentials, refused on input, are dropped too.
 */
export function displayUrl(value: string): string {
  try {
    const url = new URL(value);
    url.username = '';
    url.password = '';
    url.hash = '';
    const names = [...url.searchParams.keys()];
    url.search = '';
    return names.length === 0 ? url.toString() : `${url.toString()}?${names.map((name) => `${encodeURIComponent(name)}=…`).join('&')}`;
  } catch {
    return '(not a URL)';
  }
}

/** `text` (an error message) with every occurrence of `url` in it replaced by its display form. */
export function withoutSecrets(text: string, url: string): string {
  const shown = displayUrl(url);
  let result = text.split(url).join(shown);
  try {
    const parsed = new URL(url);
    for (const [, value] of parsed.searchParams) if (value.length >= 4) result = result.split(value).join('…');
  } catch {
    // not a URL: nothing else to hide
  }
  return result;
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
  if (url === undefined) throw inputError(urlRefusal(value, 'webhook_url'));
  return url;
}

export function checkWebhookEvents(value: unknown): string[] {
  return eventTypes(value, 'webhook_events');
}

/** What a hook sends to, by which a hook sent without an id is matched to a stored one of the same type. */
function hookTarget(hook: Record<string, unknown>): string | undefined {
  for (const key of ['webhook_url', 'sqs_queue_url', 'sns_topic_arn']) if (typeof hook[key] === 'string' && hook[key] !== '') return hook[key] as string;
  return undefined;
}

/**
 * `event_hooks` of an updateApp: the list replaces the stored one. A hook keeps its id and created_at when it names an
 * id stored before. A hook sent without an id keeps the id of the one stored hook of the same type and URL, so that a
 * configuration pushed as code keeps each hook's identity (its queue of deliveries, its per-user order); when several
 * stored hooks match, or several hooks sent match one, which is meant cannot be told and the update is refused. Other
 * hooks get new ids. Hooks of type "webhook" are checked (webhook_url, event_types, enabled, timeout_ms); others are
 * kept as given.
 */
export function checkEventHooks(value: unknown, stored: readonly StoredHook[], now: string): StoredHook[] {
  if (value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_HOOKS) throw inputError(`event_hooks must be a list of at most ${MAX_HOOKS} hooks`);
  const before = new Map(stored.map((hook) => [hook.id, hook]));
  const validId = (id: unknown): id is string => typeof id === 'string' && id !== '' && id.length <= 64;
  const named = new Map<string, number>();
  value.forEach((hook, i) => {
    if (!isPlainObject(hook) || !validId(hook.id)) return;
    if (named.has(hook.id)) throw inputError(`event_hooks[${named.get(hook.id)}] and event_hooks[${i}] have the same id "${hook.id}"`);
    named.set(hook.id, i);
  });
  const matchedBy = new Map<string, number>();
  return value.map((hook, i) => {
    const field = `event_hooks[${i}]`;
    if (!isPlainObject(hook)) throw inputError(`${field} must be an object`);
    if (JSON.stringify(hook).length > MAX_HOOK_BYTES) throw inputError(`${field} is too large: at most ${MAX_HOOK_BYTES} bytes`);
    const { id, created_at: _created, updated_at: _updated, ...fields } = hook;
    const hookType = fields.hook_type ?? 'webhook';
    if (typeof hookType !== 'string' || hookType === '') throw inputError(`${field}.hook_type must be a string`);
    if (hookType === 'webhook') {
      if (webhookUrl(fields.webhook_url) === undefined) throw inputError(urlRefusal(fields.webhook_url, `${field}.webhook_url`));
      if (fields.event_types !== undefined) fields.event_types = eventTypes(fields.event_types, `${field}.event_types`);
      if (fields.enabled !== undefined && typeof fields.enabled !== 'boolean') throw inputError(`${field}.enabled must be a boolean`);
      if (
        fields.timeout_ms !== undefined &&
        (!Number.isInteger(fields.timeout_ms) || (fields.timeout_ms as number) < TIMEOUT_RANGE.min || (fields.timeout_ms as number) > TIMEOUT_RANGE.max)
      ) {
        throw inputError(`${field}.timeout_ms must be a whole number of milliseconds from ${TIMEOUT_RANGE.min} to ${TIMEOUT_RANGE.max}`);
      }
    }
    let hookId: string;
    if (validId(id)) {
      hookId = id;
    } else {
      const target = hookTarget(fields);
      const matches =
        target === undefined ? [] : stored.filter((old) => !named.has(old.id) && old.hook_type === hookType && hookTarget(old) === target);
      if (matches.length > 1) {
        throw inputError(
          `${field} has no id and matches ${matches.length} stored hooks of type ${hookType} and URL ${displayUrl(target!)} (ids ${matches.map((m) => m.id).join(', ')}): send the id of the one it is`,
        );
      }
      if (matches.length === 1) {
        const earlier = matchedBy.get(matches[0]!.id);
        if (earlier !== undefined) {
          throw inputError(`event_hooks[${earlier}] and ${field} have no id and both match the stored hook ${matches[0]!.id}: send its id with the one it is`);
        }
        matchedBy.set(matches[0]!.id, i);
        hookId = matches[0]!.id;
      } else {
        hookId = randomUUID();
      }
    }
    const known = before.get(hookId);
    return { ...fields, hook_type: hookType, id: hookId, created_at: known?.created_at ?? now, updated_at: now };
  });
}

/** A hook deliveries are sent through, as configured now: enabled or paused, its URL, timeout and event types. */
export interface DeliverableHook {
  hookId: string;
  url: string;
  timeoutMs: number;
  enabled: boolean;
  /** Empty: every event type. */
  eventTypes: readonly string[];
}

/** The hooks of type webhook (the app's webhook_url included), enabled or not. */
export function deliverableHooks(config: { webhook_url: string | null; webhook_events: readonly string[]; event_hooks: readonly StoredHook[] }): DeliverableHook[] {
  const hooks: DeliverableHook[] = [];
  if (config.webhook_url && webhookUrl(config.webhook_url)) {
    hooks.push({ hookId: APP_WEBHOOK_ID, url: config.webhook_url, timeoutMs: DEFAULT_TIMEOUT_MS, enabled: true, eventTypes: config.webhook_events });
  }
  for (const hook of config.event_hooks) {
    if (hook.hook_type !== 'webhook') continue;
    const url = webhookUrl(hook.webhook_url);
    if (!url) continue;
    hooks.push({
      hookId: hook.id,
      url,
      timeoutMs: typeof hook.timeout_ms === 'number' ? hook.timeout_ms : DEFAULT_TIMEOUT_MS,
      enabled: hook.enabled !== false,
      eventTypes: Array.isArray(hook.event_types) ? (hook.event_types as string[]) : [],
    });
  }
  return hooks;
}

/** Whether a hook takes events of `type`. */
export function hookTakes(hook: Pick<DeliverableHook, 'eventTypes'>, type: string): boolean {
  return hook.eventTypes.length === 0 || hook.eventTypes.includes(type);
}

/** The recorded reason of a delivery cancelled because its hook was removed, or no longer takes its event type. */
export const HOOK_REMOVED = 'the hook was removed';
export const TYPE_NOT_TAKEN = 'the hook no longer takes this event type';

/** Why a delivery of `type` may not go to `hook` (undefined: not configured) as configured now; undefined if it may. */
export function configuredAway(hook: DeliverableHook | undefined, type: string): string | undefined {
  if (!hook) return HOOK_REMOVED;
  return hookTakes(hook, type) ? undefined : TYPE_NOT_TAKEN;
}

/**
 * Where events of `type` are recorded: every hook that takes them, paused (disabled) ones included, whose deliveries
 * wait until it is enabled again.
 */
export function targetsFor(
  config: { webhook_url: string | null; webhook_events: readonly string[]; event_hooks: readonly StoredHook[] },
  type: string,
): DeliveryTarget[] {
  return deliverableHooks(config)
    .filter((hook) => hookTakes(hook, type))
    .map((hook) => ({ hookId: hook.hookId, url: hook.url, timeoutMs: hook.timeoutMs }));
}
