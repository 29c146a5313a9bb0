// Sends webhook deliveries, in every server process beside the task worker: wakes on NOTIFY (with a polling fallback),
// reads the hooks as configured now, claims due deliveries of the enabled ones, POSTs each one to its hook's current URL
// with Stream's headers, and records the outcome, fenced on its lease. Failure classes (README "Webhooks"): 2xx is
// delivered; 408, 425, 429, 5xx, a timeout or a connection error is retried with backoff (doubling, with jitter, up to
// a cap; 429 and 503 after their Retry-After) until the delivery is older than its age limit; any other answer (3xx,
// other 4xx) fails it at once. Each hook has a bounded share of the sends in flight, so a slow or dead receiver never
// holds up other hooks, other users, or the HTTP API.
import { createHmac, randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { DEFAULT_STOP_GRACE_MS, DEFAULT_WEBHOOKS } from '../config.js';
import type { Db } from '../db/schema.js';
import { configuredAway, deliverableHooks, displayUrl, HOOK_REMOVED, withoutSecrets, type DeliverableHook, type StoredHook } from './config.js';
import { cancelPending, claimDeliveries, recordAttempt, releaseDelivery, WEBHOOKS_CHANNEL, type AttemptOutcome, type ClaimedDelivery } from './store.js';
import { Wakeup, type Listen } from '../lib/wakeup.js';

export interface RetrySchedule {
  /** The first retry comes at most this long after the first attempt; each later one waits twice as long. */
  firstMs: number;
  /** The longest wait between two attempts. */
  maxMs: number;
  /** How long a delivery is retried, from its event; then it is failed. */
  maxAgeMs: number;
}

const DEFAULT_RETRY: RetrySchedule = { firstMs: DEFAULT_WEBHOOKS.retryFirstMs, maxMs: DEFAULT_WEBHOOKS.retryMaxMs, maxAgeMs: DEFAULT_WEBHOOKS.maxAgeMs };

/** The webhook configuration of the app settings. */
export interface HookSettings {
  webhook_url: string | null;
  webhook_events: readonly string[];
  event_hooks: readonly StoredHook[];
}

export interface DispatcherOptions {
  db: Db;
  /**
   * The hooks as configured now, read before each claim: a delivery goes where its hook points when it is sent. (The
   * server passes its settings cache, which a change drops at once in every instance through NOTIFY.)
   */
  settings: (db: Db) => Promise<HookSettings>;
  /** The app's key and secret now (the signature is made with the secret of the moment of sending). */
  credentials: () => { apiKey: string; apiSecret: string };
  listen?: Listen;
  pollMs?: number;
  /** Sends in flight at once, in all and per hook. */
  concurrency?: number;
  perHook?: number;
  retry?: Partial<RetrySchedule>;
  logger?: Logger;
  owner?: string;
  /** Observes each attempt's outcome (metrics). */
  onAttempt?: (outcome: 'delivered' | 'retry' | 'failed' | 'cancelled') => void;
}

/**
 * Added to a delivery's own timeout for its lease: a send still in flight (bounded by the timeout) is not taken over by
 * another process, and the delivery of a process that died is taken over a few seconds after its send could have ended.
 */
const LEASE_MARGIN_MS = 5_000;

export function signature(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Statuses retried on the schedule; any other non-2xx fails the delivery at once (the receiver refused the event). */
const RETRIED_STATUSES = new Set([408, 425, 429]);

/** Retry-After of a 429 or 503, in milliseconds: delta-seconds or an HTTP date. Undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class WebhookDispatcher {
  readonly owner: string;
  private readonly inFlight = new Map<string, { delivery: ClaimedDelivery; done: Promise<void> }>();
  private readonly retry: RetrySchedule;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();
  /** Where the next claim starts in the list of hooks, so that hooks take turns when sends in flight are scarce. */
  private turn = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  async start(): Promise<void> {
    await this.wakeup.listen(this.options.listen, WEBHOOKS_CHANNEL, this.options.logger, 'the webhook dispatcher');
    this.loop = this.run();
  }

  notify(): void {
    this.wakeup.notify();
  }

  private async run(): Promise<void> {
    const concurrency = this.options.concurrency ?? DEFAULT_WEBHOOKS.concurrency;
    const perHook = this.options.perHook ?? DEFAULT_WEBHOOKS.perHook;
    while (!this.stopping) {
      await new Promise((resolve) => setImmediate(resolve));
      this.wakeup.startRound();
      const free = concurrency - this.inFlight.size;
      let claimed: Array<{ delivery: ClaimedDelivery; hook: DeliverableHook | undefined }> = [];
      if (free > 0) {
        try {
          claimed = await this.claim(free, perHook);
        } catch (error) {
          if (this.stopping) break;
          this.options.logger?.error({ err: error }, 'claiming webhook deliveries failed');
        }
      }
      for (const { delivery, hook } of claimed) this.startSend(delivery, hook);
      if (claimed.length > 0 && this.inFlight.size < concurrency) continue;
      await this.wakeup.sleep(this.options.pollMs ?? 1_000);
    }
  }

  /** Claims for the enabled hooks with room in flight, each up to its share; a disabled hook's deliveries wait. */
  private async claim(free: number, perHook: number) {
    const hooks = deliverableHooks(await this.options.settings(this.options.db));
    const byId = new Map(hooks.map((hook) => [hook.hookId, hook]));
    const inFlightOf = new Map<string, number>();
    for (const { delivery } of this.inFlight.values()) inFlightOf.set(delivery.hook_id, (inFlightOf.get(delivery.hook_id) ?? 0) + 1);
    const open = hooks.filter((hook) => hook.enabled && (inFlightOf.get(hook.hookId) ?? 0) < perHook);
    if (open.length === 0) return [];
    this.turn = (this.turn + 1) % open.length;
    const ordered = [...open.slice(this.turn), ...open.slice(0, this.turn)];
    const claims = ordered.map((hook) => ({
      hookId: hook.hookId,
      limit: Math.min(free, perHook - (inFlightOf.get(hook.hookId) ?? 0)),
      leaseMs: hook.timeoutMs + LEASE_MARGIN_MS,
    }));
    const claimed = await claimDeliveries(this.options.db, this.owner, claims, free);
    return claimed.map((delivery) => ({ delivery, hook: byId.get(delivery.hook_id) }));
  }

  private startSend(delivery: ClaimedDelivery, hook: DeliverableHook | undefined) {
    const done = this.attempt(delivery, hook)
      .catch((error) => this.options.logger?.error({ err: error, delivery: delivery.id }, 'a webhook attempt could not be recorded'))
      .finally(() => {
        this.inFlight.delete(delivery.id);
        this.notify();
      });
    this.inFlight.set(delivery.id, { delivery, done });
  }

  private ageMs(delivery: ClaimedDelivery): number {
    return Date.now() - Number(delivery.age_from / 1000n);
  }

  /** The wait before the next attempt, or null when it would pass the age limit. Jittered within the upper half. */
  private retryDelay(delivery: ClaimedDelivery, retryAfter: number | undefined): number | null {
    const ceiling = Math.min(this.retry.firstMs * 2 ** (delivery.attempts - 1), this.retry.maxMs);
    const delay = retryAfter ?? Math.round(ceiling * (0.5 + Math.random() * 0.5));
    return this.ageMs(delivery) + delay > this.retry.maxAgeMs ? null : delay;
  }

  private async attempt(delivery: ClaimedDelivery, hook: DeliverableHook | undefined): Promise<void> {
    let outcome: AttemptOutcome;
    const away = configuredAway(hook, delivery.event_type);
    if (!hook || away !== undefined) {
      // Configured away after it was recorded (by an instance that had not seen the change yet, or just now).
      outcome = { kind: 'cancelled', error: away ?? HOOK_REMOVED };
    } else if (this.ageMs(delivery) > this.retry.maxAgeMs) {
      // Waited past its age limit (its hook was disabled, or deliveries ahead of it took that long): never sent.
      outcome = { kind: 'failed', error: 'past the age limit before it could be sent', status: null, maxAgeMs: this.retry.maxAgeMs };
    } else {
      outcome = await this.send(delivery, hook);
    }
    await recordAttempt(this.options.db, delivery, outcome);
    if (outcome.kind === 'retry') await this.cancelIfConfiguredAway(delivery);
    const report = outcome.kind === 'retry' ? 'retry' : outcome.kind;
    this.options.onAttempt?.(report);
    if (outcome.kind !== 'delivered') {
      this.options.logger?.debug(
        { delivery: delivery.id, hook: delivery.hook_id, url: hook ? displayUrl(hook.url) : undefined, attempt: delivery.attempts, outcome: outcome.kind, failure: outcome.error },
        'webhook attempt not delivered',
      );
    }
  }

  /**
   * A delivery whose send failed while its hook was removed or narrowed: the change's cancellation skipped it (it was
   * being sent) and its retry made it pending again, to wait out its backoff (up to an hour) before a claim cancelled
   * it. Read after the retry is recorded, the configuration is either still the old one, and the change's cancellation
   * runs after this and finds the delivery pending, or already the new one, and the delivery is cancelled here. (So in
   * the instance that made the change; another sees it through NOTIFY, and a claim or the housekeeping cancels what
   * that leaves.)
   */
  private async cancelIfConfiguredAway(delivery: ClaimedDelivery): Promise<void> {
    const hook = deliverableHooks(await this.options.settings(this.options.db)).find((candidate) => candidate.hookId === delivery.hook_id);
    const away = configuredAway(hook, delivery.event_type);
    // A narrowed hook keeps the deliveries of the types it still takes.
    if (away !== undefined) await cancelPending(this.options.db, delivery.hook_id, away, hook?.eventTypes);
  }

  private async send(delivery: ClaimedDelivery, hook: DeliverableHook): Promise<AttemptOutcome> {
    const { apiKey, apiSecret } = this.options.credentials();
    let failure: string;
    let status: number | null = null;
    let retryAfter: number | undefined;
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-signature': signature(apiSecret, delivery.body),
          'x-webhook-id': delivery.id,
          'x-webhook-attempt': String(delivery.attempts),
          'x-api-key': apiKey,
        },
        body: delivery.body,
        // A redirect is an answer like any other: the target is the URL the app configured.
        redirect: 'manual',
        signal: AbortSignal.timeout(hook.timeoutMs),
      });
      await response.body?.cancel().catch(() => {});
      status = response.status;
      if (status >= 200 && status < 300) return { kind: 'delivered' };
      failure = `the receiver answered ${status}`;
      if (!(RETRIED_STATUSES.has(status) || status >= 500)) return { kind: 'failed', error: failure, status, maxAgeMs: this.retry.maxAgeMs };
      if (status === 429 || status === 503) retryAfter = retryAfterMs(response.headers.get('retry-after'));
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      failure =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${hook.timeoutMs} ms`
          : `the request failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
      failure = withoutSecrets(failure, hook.url);
    }
    const delay = this.retryDelay(delivery, retryAfter);
    return delay === null
      ? { kind: 'failed', error: failure, status, maxAgeMs: this.retry.maxAgeMs }
      : { kind: 'retry', delayMs: delay, error: failure, status };
  }

  /** Stops claiming, lets sends in flight finish (each is bounded by its timeout), hands back what is left. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.notify();
    await this.loop;
    const all = Promise.all([...this.inFlight.values()].map((entry) => entry.done));
    const finished = await Promise.race([all.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref())]);
    if (!finished) {
      await Promise.race([
        Promise.all([...this.inFlight.values()].map(({ delivery }) => releaseDelivery(this.options.db, delivery).catch(() => {}))),
        new Promise((resolve) => setTimeout(resolve, graceMs).unref()),
      ]);
    }
    await this.wakeup.close();
  }
}
