// `npm run import`: brings users into this server from a user file or a live Stream app (README "Moving from hosted
// Stream"). It reads the source lazily, sends it in chunks to POST /operator/import with a small concurrency,
// records the chunks committed in a checkpoint file (so that --resume continues an interrupted run), and with
// --verify pages the source again and compares every user with the target, field by field.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { configuredCredentials } from '../auth/configured-credentials.js';
import { loadConfig } from '../config.js';
import { isLoopbackHost } from '../lib/network.js';
import { parseOptions, USAGE, UsageError, type Options } from './options.js';
import { RemoteError, StreamServer, type Endpoint } from './remote.js';
import { apiChunks, fileChunks, type Chunk, type Position } from './sources.js';
import { verifyImport, type VerifyReport } from './verify.js';

/** The target: --to, else this checkout's server as `npm run token` finds it (its configuration and credentials). */
async function targetEndpoint(options: Options): Promise<Endpoint> {
  const config = loadConfig();
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = options.to.url ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
  if (options.to.key && options.to.secret) return { url, key: options.to.key, secret: options.to.secret };
  const { apiKey, apiSecret } = await configuredCredentials();
  return { url, key: apiKey, secret: apiSecret };
}

// --- checkpoint --------------------------------------------------------------------------------------------------------

interface Checkpoint {
  version: 1;
  /** What was read: "file:<absolute path>", "stdin", or "api:<url>". */
  source: string;
  target: string;
  position: Position | null;
  complete: boolean;
  totals: Totals;
  updated_at: string;
}

interface Totals {
  imported: number;
  unchanged: number;
  failed: number;
}

function sourceName(options: Options): string {
  if (options.fromApi) return `api:${options.fromApi.url}`;
  return options.file === '-' ? 'stdin' : `file:${path.resolve(options.file!)}`;
}

function readCheckpoint(file: string): Checkpoint | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const checkpoint = JSON.parse(text) as Checkpoint;
    if (checkpoint.version === 1) return checkpoint;
  } catch {
    // unreadable: reported below as absent
  }
  throw new UsageError(`${file} is not a checkpoint file of npm run import`);
}

/** Written whole and renamed into place, so that a kill at any moment leaves the previous or the next, never half. */
function writeCheckpoint(file: string, checkpoint: Checkpoint) {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
  fs.renameSync(temporary, file);
}

// --- progress ----------------------------------------------------------------------------------------------------------

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const number = (n: number) => n.toLocaleString('en-US');

/** On a terminal, one live line; otherwise a line every 5 s. On stderr, so that stdout stays the report. */
class Progress {
  private readonly live = Boolean(process.stderr.isTTY);
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private note = '';
  bytesRead = 0;

  constructor(
    private readonly totals: () => Totals,
    private readonly totalBytes: number | undefined,
    private readonly quiet: boolean,
  ) {}

  start() {
    if (this.quiet) return;
    this.timer = setInterval(() => this.print(), this.live ? 250 : 5_000);
    this.timer.unref();
  }

  wait(message: string) {
    this.note = message;
    if (!this.live && !this.quiet) process.stderr.write(`${message}\n`);
  }

  line(): string {
    const { imported, unchanged, failed } = this.totals();
    const done = imported + unchanged + failed;
    const seconds = (Date.now() - this.started) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    let text = `${number(done)} users (${number(imported)} imported, ${number(unchanged)} unchanged, ${number(failed)} refused), ${number(Math.round(rate))}/s`;
    if (this.totalBytes) {
      const fraction = Math.min(1, this.bytesRead / this.totalBytes);
      const eta = fraction > 0 ? (seconds / fraction) * (1 - fraction) : Infinity;
      text += `, ${(fraction * 100).toFixed(1)}% read, ETA ${duration(eta)}`;
    }
    return text;
  }

  print() {
    if (this.live) {
      process.stderr.write(`\r\u001b[2K${this.line()}${this.note ? ` · ${this.note}` : ''}`);
      this.note = '';
    } else {
      process.stderr.write(`${this.line()}\n`);
    }
  }

  stop() {
    clearInterval(this.timer);
    if (this.quiet) return;
    this.print();
    if (this.live) process.stderr.write('\n');
  }
}

// --- the import --------------------------------------------------------------------------------------------------------

interface Failure {
  /** The file line, or the user id for a live app. */
  where: string;
  id: string | null;
  message: string;
}

interface RunReport {
  source: string;
  target: string;
  status: 'complete' | 'interrupted' | 'failed';
  resumed: boolean;
  totals: Totals;
  failures: Failure[];
  seconds: number;
  error?: string;
  verify?: VerifyReport;
  /** This process's peak resident memory: it stays flat whatever the source's size. */
  memory?: { max_rss_bytes: number };
}

const KEPT_FAILURES = 100;

async function runImport(
  options: Options,
  target: StreamServer,
  source: StreamServer | undefined,
  progress: Progress,
  stop: { requested: boolean },
  totals: Totals,
): Promise<RunReport> {
  const started = Date.now();
  const name = sourceName(options);
  const previous = readCheckpoint(options.checkpoint);
  let position: Position | null = null;
  if (options.resume) {
    if (!previous) throw new UsageError(`--resume: no checkpoint file ${options.checkpoint}`);
    if (previous.source !== name) throw new UsageError(`--resume: ${options.checkpoint} records an import of ${previous.source}, not of ${name}`);
    position = previous.position;
    Object.assign(totals, previous.totals);
    if (previous.complete) return { source: name, target: target.endpoint.url, status: 'complete', resumed: true, totals, failures: [], seconds: 0 };
  }
  const failures: Failure[] = [];
  const checkpoint = (complete: boolean) =>
    writeCheckpoint(options.checkpoint, { version: 1, source: name, target: target.endpoint.url, position, complete, totals, updated_at: new Date().toISOString() });
  checkpoint(false);

  const limits = { lines: options.chunkSize, bytes: 8 * 1024 * 1024 };
  const chunks: AsyncGenerator<Chunk> = source
    ? apiChunks(source, position && 'lastId' in position ? position.lastId : undefined, limits)
    : fileChunks(options.file!, position && 'lines' in position ? position.lines : 0, limits, (n) => (progress.bytesRead += n));

  // Chunks commit in any order; the checkpoint moves over the ones committed without a gap before them.
  const ends = new Map<number, Position>();
  const committed = new Set<number>();
  let next = 0;
  let fatal: Error | undefined;
  let overErrors = false;

  async function send(chunk: Chunk) {
    const text = chunk.lines.join('\n') + '\n';
    // Compressed for a remote target; on this machine it would only cost both processes CPU.
    const body = compress ? gzipSync(text, { level: 1 }) : Buffer.from(text);
    const query: Record<string, string> = { on_conflict: options.onConflict };
    if (options.webhooks) query.webhooks = 'true';
    const result = (await target.json('POST', 'operator/import', {
      query,
      body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': 'application/x-ndjson', ...(compress ? { 'content-encoding': 'gzip' } : {}) },
    })) as unknown as { imported: number; unchanged: number; failed: Array<{ line: number; id: string | null; message: string }> };
    totals.imported += result.imported;
    totals.unchanged += result.unchanged;
    totals.failed += result.failed.length;
    for (const failure of result.failed) {
      if (failures.length >= KEPT_FAILURES) break;
      const where = chunk.firstLine !== undefined ? `line ${chunk.firstLine + failure.line - 1}` : `user ${failure.id ?? '?'}`;
      failures.push({ where, id: failure.id, message: failure.message });
    }
    committed.add(chunk.seq);
    while (committed.has(next)) {
      committed.delete(next);
      position = ends.get(next)!;
      ends.delete(next);
      next++;
    }
    checkpoint(false);
    if (totals.failed > options.maxErrors) overErrors = true;
  }

  const inFlight = new Set<Promise<void>>();
  const compress = !isLoopbackHost(new URL(target.endpoint.url).hostname.replace(/^\[|\]$/g, ''));
  try {
    for await (const chunk of chunks) {
      ends.set(chunk.seq, chunk.end);
      const sending: Promise<void> = send(chunk).catch((error: Error) => {
        fatal ??= error;
      });
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
      if (fatal || overErrors || stop.requested) break;
    }
  } catch (error) {
    fatal ??= error as Error;
  }
  await Promise.all(inFlight);
  const status = fatal || overErrors ? 'failed' : stop.requested ? 'interrupted' : 'complete';
  checkpoint(status === 'complete');
  const report: RunReport = { source: name, target: target.endpoint.url, status, resumed: options.resume, totals, failures, seconds: (Date.now() - started) / 1000 };
  if (fatal) report.error = fatal.message;
  else if (overErrors) report.error = `more than ${options.maxErrors} users were refused (--max-errors): stopped`;
  return report;
}

function printReport(report: RunReport, json: boolean) {
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const { totals } = report;
  const out = process.stderr;
  for (const failure of report.failures.slice(0, 20)) out.write(`refused: ${failure.where}${failure.id && !failure.where.includes(failure.id) ? ` (${failure.id})` : ''}: ${failure.message}\n`);
  if (totals.failed > 20) out.write(`… and ${number(totals.failed - Math.min(20, report.failures.length))} more refused\n`);
  out.write(
    `${report.status}: ${number(totals.imported)} imported, ${number(totals.unchanged)} unchanged, ${number(totals.failed)} refused` +
      ` in ${duration(report.seconds)}${report.resumed ? ' (resumed)' : ''}\n`,
  );
  if (report.error) out.write(`error: ${report.error}\n`);
  if (report.status === 'interrupted') out.write(`interrupted: every committed chunk is in place; run again with --resume to continue\n`);
  if (report.verify) {
    const v = report.verify;
    for (const difference of v.differences) out.write(`differs: ${difference}\n`);
    out.write(`verify: ${number(v.checked)} users compared, ${number(v.differing)} differ, ${number(v.missing)} missing on the target` +
      `${v.skipped > 0 ? `, ${number(v.skipped)} not comparable (deleted or refused)` : ''}\n`);
  }
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) process.stderr.write(`${error.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const totalBytes = options.file && options.file !== '-' ? fs.statSync(options.file).size : undefined;
  const totals: Totals = { imported: 0, unchanged: 0, failed: 0 };
  const progress = new Progress(() => totals, totalBytes, false);
  const target = new StreamServer(await targetEndpoint(options), 'target', undefined, (message) => progress.wait(message));
  const source = options.fromApi ? new StreamServer(options.fromApi, 'source', undefined, (message) => progress.wait(message)) : undefined;

  // Both ends answer before anything is read: a wrong URL or key is said at once, not after a minute of retries.
  const probe = { retry: { attempts: 2, backoffMs: 250 } };
  await target.json('GET', 'api/v2/app', probe);
  if (source) await source.json('GET', 'api/v2/users', { ...probe, query: { payload: JSON.stringify({ filter_conditions: {}, limit: 1 }) } });

  // Ctrl-C: no new chunk is sent, the ones in flight finish (each commits whole or not at all), the checkpoint is
  // written. A second Ctrl-C leaves at once: what was committed stays committed.
  const stop = { requested: false };
  const onSignal = () => {
    if (stop.requested) process.exit(130);
    stop.requested = true;
    progress.wait('stopping after the chunks in flight (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  progress.start();
  let report: RunReport;
  try {
    report = await runImport(options, target, source, progress, stop, totals);
  } finally {
    progress.stop();
  }
  if (report.status === 'complete' && options.verify && !stop.requested) {
    report.verify = await verifyImport({ file: options.file, source, target, onProgress: (message) => progress.wait(message) });
  }
  report.memory = { max_rss_bytes: process.resourceUsage().maxRSS * 1024 };
  printReport(report, options.json);
  if (report.status === 'interrupted') return 130;
  if (report.status === 'failed') return 1;
  if (report.verify && (report.verify.differing > 0 || report.verify.missing > 0)) return 1;
  return 0;
}

main().then(
  (status) => process.exit(status),
  (error: Error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${error instanceof RemoteError ? error.message : (error.stack ?? error.message)}\n`);
    process.exit(1);
  },
);
