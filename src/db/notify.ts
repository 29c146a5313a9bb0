// Wake-ups sent after a commit, outside the transaction that needs them.
//
// PostgreSQL's NOTIFY takes one cluster-wide lock from the pre-commit of its transaction to its end: a NOTIFY inside
// every event-producing or task-enqueuing transaction makes those transactions commit one at a time, across the whole
// cluster. So a transaction only asks for a wake-up (`notifyAfterCommit`), and once it has committed the notifier sends
// one NOTIFY of its own, coalesced: at most one in flight per process and channel, and the requests that come while one
// is in flight are served by one more after it. A wake-up lost (the send failed, the process died between the commit
// and the send) costs a poll interval: the listeners' polling stays the fallback.
import { Kysely, sql, Transaction, TransactionBuilder, type KyselyConfig } from 'kysely';

/** Sends a NOTIFY on a channel, coalescing requests while one is in flight. */
export class Notifier {
  private readonly channels = new Map<string, { again: boolean }>();

  constructor(private readonly send: (channel: string) => Promise<unknown>) {}

  notify(channel: string): void {
    const inFlight = this.channels.get(channel);
    if (inFlight) {
      inFlight.again = true;
      return;
    }
    const state = { again: false };
    this.channels.set(channel, state);
    const round = (): void => {
      this.send(channel)
        .catch(() => {
          // The listeners poll: a wake-up that could not be sent delays, and loses, nothing.
        })
        .finally(() => {
          if (state.again) {
            state.again = false;
            round();
          } else {
            this.channels.delete(channel);
          }
        });
    };
    round();
  }
}

/** The channels each open transaction of a NotifyingKysely will wake once it has committed. */
const afterCommit = new WeakMap<Transaction<any>, Set<string>>();

/**
 * Asks for a NOTIFY on `channel` once `trx` has committed (none if it rolls back). A transaction not opened through a
 * NotifyingKysely cannot be followed to its commit: its NOTIFY is sent inside it, as PostgreSQL delivers it at commit.
 */
export async function notifyAfterCommit(trx: Transaction<any>, channel: string): Promise<void> {
  const channels = afterCommit.get(trx);
  if (channels) channels.add(channel);
  else await sql`SELECT pg_notify(${channel}, '')`.execute(trx);
}

class NotifyingTransactionBuilder<DB> extends TransactionBuilder<DB> {
  constructor(
    private readonly inner: TransactionBuilder<DB>,
    private readonly notifier: Notifier,
  ) {
    // The inner builder does the work; this one only follows its transactions to their commit.
    super({} as never);
  }

  override setAccessMode(...args: Parameters<TransactionBuilder<DB>['setAccessMode']>): TransactionBuilder<DB> {
    return new NotifyingTransactionBuilder(this.inner.setAccessMode(...args), this.notifier);
  }

  override setIsolationLevel(...args: Parameters<TransactionBuilder<DB>['setIsolationLevel']>): TransactionBuilder<DB> {
    return new NotifyingTransactionBuilder(this.inner.setIsolationLevel(...args), this.notifier);
  }

  override async execute<T>(callback: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    const channels = new Set<string>();
    const result = await this.inner.execute((trx) => {
      afterCommit.set(trx, channels);
      return callback(trx);
    });
    for (const channel of channels) this.notifier.notify(channel);
    return result;
  }
}

/** A Kysely whose transactions send the wake-ups they ask for (notifyAfterCommit) once committed. */
export class NotifyingKysely<DB> extends Kysely<DB> {
  readonly notifier: Notifier;

  constructor(config: KyselyConfig) {
    super(config);
    this.notifier = new Notifier((channel) => sql`SELECT pg_notify(${channel}, '')`.execute(this));
  }

  override transaction(): TransactionBuilder<DB> {
    return new NotifyingTransactionBuilder(super.transaction(), this.notifier);
  }
}
