// The webhooks section (PostgreSQL): what a configured hook costs the write path, and what a dead hook's backlog costs a
// healthy one.
//
//   Upserts with a user.updated hook against none: one server process; rounds, each with a pass of new users under each
//   configuration, the order alternating between rounds; a receiver in this process answers 200 to every delivery,
//   and each hook pass ends only once every event has been delivered. With a hook, an upsert leaves its single-statement
//   fast path (it locks and reads the users to tell what changed, and writes an outbox row per user), and the
//   dispatcher's sends share the cores.
//   Delivery latency of a healthy hook: sequential single-user upserts, each timed from the request to the receiver
//   having the event; without a backlog, then beside BENCH_WEBHOOK_BACKLOG pending deliveries of a hook whose receiver
//   refuses connections.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PostgresBackend } from './backends.js';
import type { BenchConfig } from './config.js';
import { expectStatus, type BenchClient } from './http.js';
import { log } from './lifecycle.js';
import { median, runConcurrently, summarize, withSpread, type Summary } from './measure.js';
import { check, fmtInt, fmtMs, fmtRatio, info, type Report } from './report.js';
import { makeBatches, upsertBody } from './workload.js';

export interface WebhookFigures {
  rounds: Array<{ none: number; paused: number; hook: number; drainSeconds: number }>;
  users: number;
  latency: { alone: Summary; backlog: Summary };
  backlog: number;
}

interface Receiver {
  url: string;
  delivered: number;
  /** Resolves when an event about `userId` arrives. */
  waitFor(userId: string): Promise<void>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const waiting = new Map<string, () => void>();
  const receiver = {
    url: '',
    delivered: 0,
    waitFor: (userId: string) => new Promise<void>((resolve) => waiting.set(userId, resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receiver.delivered++;
      res.writeHead(200).end();
      if (waiting.size > 0) {
        const id = /"user":\{[^}]*?"id":"([^"]+)"/.exec(Buffer.concat(chunks).toString('utf8'))?.[1];
        const resolve = id === undefined ? undefined : waiting.get(id);
        if (resolve) {
          waiting.delete(id!);
          resolve();
        }
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function configure(client: BenchClient, hooks: unknown[]) {
  expectStatus(await client.request('PATCH', '/api/v2/app', {}, json({ event_hooks: hooks })), 200, 'PATCH /api/v2/app');
}

async function until(check: () => boolean, what: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function benchWebhooks(config: BenchConfig, pgb: PostgresBackend, client: BenchClient): Promise<WebhookFigures> {
  const receiver = await startReceiver();
  try {
    const hook = { id: 'bench-healthy', hook_type: 'webhook', webhook_url: receiver.url, event_types: ['user.updated'] };
    const rounds: WebhookFigures['rounds'] = [];
    const users = config.webhookUsers;
    log(`  webhooks: ${config.rounds} rounds of ${fmtInt(users)} new users upserted with a user.updated hook and without…`);
    for (let round = 0; round < config.rounds; round++) {
      const figures = { none: 0, paused: 0, hook: 0, drainSeconds: 0 };
      const modes = ['none', 'paused', 'hook'] as const;
      const order = [...modes.slice(round % 3), ...modes.slice(0, round % 3)];
      for (const mode of order) {
        // paused: the hook is disabled, so events are recorded and nothing is sent (the write path's share of the cost).
        await configure(client, mode === 'hook' ? [hook] : mode === 'paused' ? [{ ...hook, id: 'bench-paused', enabled: false }] : []);
        const bodies = makeBatches(`wh${round}${mode}`, users).map(upsertBody);
        const deliveredBefore = receiver.delivered;
        await pgb.bare('CHECKPOINT');
        const { seconds } = await runConcurrently(
          `webhooks ${mode}`,
          bodies.map((body) => async () => expectStatus(await client.request('POST', '/api/v2/users', {}, body), 201, 'POST /api/v2/users')),
          config.concurrency,
        );
        figures[mode] = users / seconds;
        if (mode === 'hook') {
          const started = performance.now();
          await until(() => receiver.delivered - deliveredBefore >= users, 'the deliveries');
          figures.drainSeconds = seconds + (performance.now() - started) / 1000;
        }
      }
      rounds.push(figures);
      log(
        `    round ${round + 1}: ${fmtInt(figures.none)} users/s without, ${fmtInt(figures.hook)} with (${fmtRatio(figures.hook / figures.none)}), ` +
          `${fmtInt(figures.paused)} with the hook paused (${fmtRatio(figures.paused / figures.none)})`,
      );
    }

    const timeOne = async (id: string) => {
      const arrived = receiver.waitFor(id);
      const started = performance.now();
      expectStatus(await client.request('POST', '/api/v2/users', {}, json({ users: { [id]: { id } } })), 201, 'POST /api/v2/users');
      await arrived;
      return performance.now() - started;
    };
    const runs = config.webhookLatencyRuns;
    await configure(client, [hook]);
    const alone: number[] = [];
    for (let i = 0; i < runs + 10; i++) {
      const ms = await timeOne(`lat-alone-${i}`);
      if (i >= 10) alone.push(ms);
    }
    if (config.webhookBacklog === 0) return { rounds, users, latency: { alone: summarize(alone), backlog: summarize(alone) }, backlog: 0 };
    log(`  webhooks: ${fmtInt(config.webhookBacklog)} pending deliveries for a hook whose receiver refuses connections…`);
    await pgb.bare(
      `INSERT INTO webhook_deliveries (id, hook_id, user_id, event_type, url, body, next_attempt_at)
       SELECT gen_random_uuid(), 'bench-dead', 'backlog-' || (i % 10000), 'user.updated', 'http://127.0.0.1:9/dead',
              '{"type":"user.updated","user":{"id":"backlog"},"custom":{}}', CASE WHEN i < 10000 THEN now() END
       FROM generate_series(0, $1::int - 1) AS i`,
      [config.webhookBacklog],
    );
    await pgb.bare('ANALYZE webhook_deliveries');
    await configure(client, [hook, { id: 'bench-dead', hook_type: 'webhook', webhook_url: 'http://127.0.0.1:9/dead' }]);
    const backlog: number[] = [];
    for (let i = 0; i < runs + 10; i++) {
      const ms = await timeOne(`lat-backlog-${i}`);
      if (i >= 10) backlog.push(ms);
    }
    await configure(client, []);
    return { rounds, users, latency: { alone: summarize(alone), backlog: summarize(backlog) }, backlog: config.webhookBacklog };
  } finally {
    await receiver.close();
  }
}

export function reportWebhooks(report: Report, figures: WebhookFigures, config: BenchConfig) {
  const section = report.section(
    'Webhooks, PostgreSQL',
    `Upserts of ${fmtInt(figures.users)} new users (100 per request, ${config.concurrency} connections) with a user.updated hook against none, ` +
      `and against the hook paused (events recorded, none sent), ${figures.rounds.length} rounds rotating the order, one server process; the receiver (in the bench process) answers 200, and a ` +
      `hook pass ends once every event is delivered. Latency: ${figures.latency.alone.n} sequential single-user upserts, each timed ` +
      `from the request until the receiver has its event, without a backlog, then beside ${fmtInt(figures.backlog)} pending ` +
      `deliveries of a hook whose receiver refuses connections.`,
  );
  const ratios = figures.rounds.map((round) => round.hook / round.none);
  section.checks.push(
    check('upsert with a user.updated hook ÷ without', median(ratios), withSpread(ratios, fmtRatio), '≥', 0.8, fmtRatio, 'median of the rounds'),
    info('  users/s without / with a hook', `${fmtInt(median(figures.rounds.map((r) => r.none)))} / ${fmtInt(median(figures.rounds.map((r) => r.hook)))}`),
    info(
      '  the write path alone: with the hook paused ÷ without',
      withSpread(figures.rounds.map((r) => r.paused / r.none), fmtRatio),
      'events recorded, none sent: what the outbox rows and the locking read cost the upsert',
    ),
    info('  events delivered per second (upserts and sends together)', fmtInt(median(figures.rounds.map((r) => figures.users / r.drainSeconds)))),
    info('healthy hook: upsert → delivered p50 / p99 (ms), no backlog', `${fmtMs(figures.latency.alone.p50)} / ${fmtMs(figures.latency.alone.p99)}`),
    info(`healthy hook: upsert → delivered p50 / p99 (ms), beside ${fmtInt(figures.backlog)} pending of a dead hook`, `${fmtMs(figures.latency.backlog.p50)} / ${fmtMs(figures.latency.backlog.p99)}`),
  );
  return section;
}
