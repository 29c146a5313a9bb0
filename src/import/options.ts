// The command line of `npm run import` (cli.ts): its options, checked before anything is read or sent.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { MAX_CHUNK_LINES } from './format.js';
import type { Endpoint } from './remote.js';

export const USAGE = `usage:
  npm run import -- FILE [options]                          a user file (- for stdin; gzip detected)
  npm run import -- --from-api URL --key K --secret S [options]   a live Stream app, or another instance of this server

options:
  --to URL --to-key K --to-secret S   the target (default: this checkout's server, found as npm run token finds it)
  --on-conflict newer|overwrite|skip  a user that exists already: the newer updated_at wins (default), the source's
                                      replaces it, or it is kept
  --webhooks                          send one user.updated per imported user (default: none)
  --concurrency N                     chunks in flight (default 2)
  --chunk-size N                      users per chunk (default 5000 for a file, 1000 for a live app; at most ${MAX_CHUNK_LINES})
  --resume                            continue the import the checkpoint file records
  --checkpoint FILE                   the checkpoint file (default .import-checkpoint.json)
  --max-errors N                      stop once more than N users were refused, and exit 1 (default 0)
  --verify                            read the source again and compare every user with the target
  --json                              print the final report as JSON on stdout
exit status: 0 done, 1 failed (refused users over --max-errors, unreachable source or target, differences), 2 bad arguments`;

export class UsageError extends Error {}

export interface Options {
  file?: string;
  fromApi?: Endpoint;
  to: Partial<Endpoint>;
  onConflict: 'newer' | 'overwrite' | 'skip';
  webhooks: boolean;
  concurrency: number;
  chunkSize: number;
  resume: boolean;
  checkpoint: string;
  maxErrors: number;
  verify: boolean;
  json: boolean;
}

function count(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}

function checkUrl(name: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--${name} must be an http(s) URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--${name} must be an http(s) URL, got ${JSON.stringify(text)}`);
  return text;
}

export function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'from-api': { type: 'string' },
        key: { type: 'string' },
        secret: { type: 'string' },
        to: { type: 'string' },
        'to-key': { type: 'string' },
        'to-secret': { type: 'string' },
        'on-conflict': { type: 'string' },
        webhooks: { type: 'boolean' },
        concurrency: { type: 'string' },
        'chunk-size': { type: 'string' },
        resume: { type: 'boolean' },
        checkpoint: { type: 'string' },
        'max-errors': { type: 'string' },
        verify: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError('');
  if (positionals.length > 1) throw new UsageError(`one FILE at most, got ${positionals.length}`);
  const file = positionals[0];
  if ((file === undefined) === (values['from-api'] === undefined)) throw new UsageError('give either a FILE or --from-api URL');
  let fromApi: Endpoint | undefined;
  if (values['from-api'] !== undefined) {
    if (!values.key || !values.secret) throw new UsageError('--from-api needs --key and --secret');
    fromApi = { url: checkUrl('from-api', values['from-api']), key: values.key, secret: values.secret };
  } else if (values.key !== undefined || values.secret !== undefined) {
    throw new UsageError('--key and --secret go with --from-api');
  }
  if (file !== undefined && file !== '-' && !fs.existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const onConflict = values['on-conflict'] ?? 'newer';
  if (onConflict !== 'newer' && onConflict !== 'overwrite' && onConflict !== 'skip') {
    throw new UsageError(`--on-conflict must be newer, overwrite or skip, got ${JSON.stringify(onConflict)}`);
  }
  if ((values['to-key'] === undefined) !== (values['to-secret'] === undefined)) throw new UsageError('give --to-key and --to-secret together');
  return {
    file,
    fromApi,
    to: { url: values.to === undefined ? undefined : checkUrl('to', values.to), key: values['to-key'], secret: values['to-secret'] },
    onConflict,
    webhooks: values.webhooks ?? false,
    concurrency: count('concurrency', values.concurrency, 2, 1, 16),
    chunkSize: count('chunk-size', values['chunk-size'], fromApi ? 1000 : 5000, 1, MAX_CHUNK_LINES),
    resume: values.resume ?? false,
    checkpoint: values.checkpoint ?? '.import-checkpoint.json',
    maxErrors: count('max-errors', values['max-errors'], 0, 0, Number.MAX_SAFE_INTEGER),
    verify: values.verify ?? false,
    json: values.json ?? false,
  };
}

