// How a polling loop (the task worker, the webhook dispatcher) sleeps between rounds and is woken early: by a
// LISTEN notification from any process on the database, or by a call from this one. A wake-up that comes while the
// loop is busy is kept, so the next sleep returns at once and no notification falls between two rounds.
import type { Logger } from 'pino';

export type Listen = (channel: string, onNotify: (payload: string) => void) => Promise<() => Promise<void>>;

export class Wakeup {
  private woken = false;
  private wake: (() => void) | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  /** Subscribes to `channel`; when LISTEN fails the loop still works, by polling alone. */
  async listen(listen: Listen | undefined, channel: string, logger: Logger | undefined, what: string): Promise<void> {
    if (!listen) return;
    try {
      this.unlisten = await listen(channel, () => this.notify());
    } catch (error) {
      logger?.warn({ err: error }, `LISTEN failed; ${what} polls only`);
    }
  }

  notify(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Called as a round starts: wake-ups before it are served by it. */
  startRound(): void {
    this.woken = false;
  }

  /** Sleeps up to `ms`, or not at all if woken since the round started. */
  async sleep(ms: number): Promise<void> {
    if (this.woken) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  async close(): Promise<void> {
    await this.unlisten?.().catch(() => {});
  }
}
