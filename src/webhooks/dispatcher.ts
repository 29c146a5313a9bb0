// Sends webhook deliveries, in every server process beside the task worker: wakes on NOTIFY (with a polling fallback),
// claims due deliveries, POSTs each one with Stream's headers, and records the outcome, fenced on its lease. A
// non-2xx answer, a timeout or a connection error is retried with backoff (doubling, with jitter, up to a cap) until
// the delivery is older than its lifetime, then it is failed. Each hook has a bounded share of the sends in flight,
// so a slow or dead receiver never holds up other hooks, other users, or the HTTP API.
import { createHmac, randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../db/schema.js';
import { claimDeliveries, markAttemptFailed, markDelivered, releaseDelivery, WEBHOOKS_CHANNEL, type ClaimedDelivery } from './store.js';
import { Wakeup, type Listen } from '../lib/wakeup.js';

export interface RetrySchedule {
  /** The first retry comes at most this long after the first attempt; each later one waits twice as long. */
  firstMs: number;
  /** The longest wait between two attempts. */
  maxMs: number;
  /** How long a delivery is retried, from its event; then it is failed. */
  maxAgeMs: number;
}

export const DEFAULT_RETRY: RetrySchedule = { firstMs: 5_000, maxMs: 60 * 60_000, maxAgeMs: 24 * 60 * 60_000 };

export interface DispatcherOptions {
  db: Db;
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
  onAttempt?: (outcome: 'delivered' | 'retry' | 'failed') => void;
}

/**
 * Added to a delivery's own timeout for its lease: a send still in flight (bounded by the timeout) is not taken over by
 * another process, and the delivery of a process that died is taken over a few seconds after its send could have ended.
 */
const LEASE_MARGIN_MS = 5_000;

export function signature(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export class WebhookDispatcher {
  readonly owner: string;
  private readonly inFlight = new Map<string, { delivery: ClaimedDelivery; done: Promise<void> }>();
  private readonly retry: RetrySchedule;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();

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
    const concurrency = this.options.concurrency ?? 32;
    const perHook = this.options.perHook ?? 4;
    while (!this.stopping) {
      await new Promise((resolve) => setImmediate(resolve));
      this.wakeup.startRound();
      const free = concurrency - this.inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        const perHookCount = new Map<string, number>();
        for (const { delivery } of this.inFlight.values()) perHookCount.set(delivery.hook_id, (perHookCount.get(delivery.hook_id) ?? 0) + 1);
        const busy = [...perHookCount].filter(([, count]) => count >= perHook).map(([hook]) => hook);
        try {
          claimed = await claimDeliveries(this.options.db, this.owner, Math.min(free, perHook), busy, LEASE_MARGIN_MS);
        } catch (error) {
          if (this.stopping) break;
          this.options.logger?.error({ err: error }, 'claiming webhook deliveries failed');
        }
      }
      for (const delivery of claimed) this.startSend(delivery);
      if (claimed.length > 0 && this.inFlight.size < concurrency) continue;
      await this.wakeup.sleep(this.options.pollMs ?? 1_000);
    }
  }

  private startSend(delivery: ClaimedDelivery) {
    const done = this.send(delivery)
      .catch((error) => this.options.logger?.error({ err: error, delivery: delivery.id }, 'a webhook attempt could not be recorded'))
      .finally(() => {
        this.inFlight.delete(delivery.id);
        this.notify();
      });
    this.inFlight.set(delivery.id, { delivery, done });
  }

  /** The wait before the next attempt, or null when the delivery has had its lifetime. Jittered within the upper half. */
  private retryDelay(delivery: ClaimedDelivery): number | null {
    const ceiling = Math.min(this.retry.firstMs * 2 ** (delivery.attempts - 1), this.retry.maxMs);
    const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
    const ageMs = Date.now() - Number(delivery.created_at / 1000n);
    return ageMs + delay > this.retry.maxAgeMs ? null : delay;
  }

  private async send(delivery: ClaimedDelivery): Promise<void> {
    const { apiKey, apiSecret } = this.options.credentials();
    let failure: string;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-signature': signature(apiSecret, delivery.body),
          'x-webhook-id': delivery.id,
          'x-webhook-attempt': String(delivery.attempts),
          'x-api-key': apiKey,
        },
        body: delivery.body,
        // A redirect is an answer like any other non-2xx: the target is the URL the app configured.
        redirect: 'manual',
        signal: AbortSignal.timeout(delivery.timeout_ms),
      });
      await response.body?.cancel().catch(() => {});
      if (response.status >= 200 && response.status < 300) {
        await markDelivered(this.options.db, delivery);
        this.options.onAttempt?.('delivered');
        return;
      }
      failure = `the receiver answered ${response.status}`;
    } catch (error) {
      failure = (error as Error).name === 'TimeoutError' ? `no answer within ${delivery.timeout_ms} ms` : `the request failed: ${(error as Error).message}`;
    }
    const delay = this.retryDelay(delivery);
    await markAttemptFailed(this.options.db, delivery, failure, delay);
    this.options.onAttempt?.(delay === null ? 'failed' : 'retry');
    this.options.logger?.debug({ delivery: delivery.id, attempt: delivery.attempts, failure }, 'webhook attempt failed');
  }

  /** Stops claiming, lets sends in flight finish (each is bounded by its timeout), hands back what is left. */
  async stop(graceMs = 10_000): Promise<void> {
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
