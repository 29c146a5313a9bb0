// Where `npm run import` reads users: a user file (or stdin), gzip detected by its first bytes, read line by line; or
// a live app, paged with server-side queryUsers by id. Both are read lazily, so that memory stays flat whatever the
// size: the reader is paused while the chunks it made wait to be sent.
import fs from 'node:fs';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { toJsonText } from '../lib/json.js';
import type { StreamServer } from './remote.js';

/** How far a source has been read: lines of a file, or the last id of a live app's id order. */
export type Position = { lines: number } | { lastId: string };

export interface Chunk {
  /** 0, 1, 2… in reading order. */
  seq: number;
  lines: string[];
  /** The file line number of lines[0] (1-based); undefined for a live app. */
  firstLine: number | undefined;
  /** The position once this chunk is imported. */
  end: Position;
}

/** A file's (or stdin's) bytes, gunzipped when they start with gzip's magic bytes. `onBytes` counts what is read. */
async function* fileBytes(path: string, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const raw = path === '-' ? process.stdin : fs.createReadStream(path, { highWaterMark: 256 * 1024 });
  const counted = (async function* () {
    for await (const data of raw as AsyncIterable<Buffer>) {
      onBytes(data.length);
      yield data;
    }
  })();
  const head = await counted.next();
  if (head.done) return;
  const firstChunk = head.value;
  if (firstChunk[0] === 0x1f && firstChunk[1] === 0x8b) {
    const input = Readable.from((async function* () {
      yield firstChunk;
      yield* counted;
    })());
    yield* input.pipe(createGunzip()) as AsyncIterable<Buffer>;
    return;
  }
  yield firstChunk;
  yield* counted;
}

/** A file's lines (LF or CRLF), each with its 1-based number. */
export async function* fileLines(path: string, onBytes: (n: number) => void = () => {}): AsyncGenerator<{ text: string; number: number }> {
  const lines = readline.createInterface({ input: Readable.from(fileBytes(path, onBytes)), crlfDelay: Infinity });
  let number = 0;
  for await (const text of lines) {
    number++;
    yield { text, number };
  }
}

export interface ChunkLimits {
  lines: number;
  bytes: number;
}

/** A file's lines in chunks, after the first `skipLines` (a resumed import). */
export async function* fileChunks(path: string, skipLines: number, limits: ChunkLimits, onBytes: (n: number) => void): AsyncGenerator<Chunk> {
  let seq = 0;
  let lines: string[] = [];
  let bytes = 0;
  let firstLine = skipLines + 1;
  let last = skipLines;
  for await (const { text, number } of fileLines(path, onBytes)) {
    if (number <= skipLines) continue;
    if (lines.length > 0 && (lines.length >= limits.lines || bytes + text.length + 1 > limits.bytes)) {
      yield { seq: seq++, lines, firstLine, end: { lines: last } };
      lines = [];
      bytes = 0;
      firstLine = number;
    }
    lines.push(text);
    bytes += Buffer.byteLength(text) + 1;
    last = number;
  }
  if (lines.length > 0) yield { seq: seq++, lines, firstLine, end: { lines: last } };
}

/** Pages of a live app's users, ordered by id, after `afterId` (a resumed import). */
export async function* apiPages(source: StreamServer, afterId: string | undefined, pageSize = 100): AsyncGenerator<Array<Record<string, unknown>>> {
  let last = afterId;
  for (;;) {
    const users = await source.queryUsers({ afterId: last, limit: pageSize });
    if (users.length === 0) return;
    yield users;
    const lastId = users[users.length - 1]!.id;
    // A short page is the last; a page that does not move past the previous one would repeat forever.
    if (users.length < pageSize || typeof lastId !== 'string' || lastId === last) return;
    last = lastId;
  }
}

/** A live app's users as lines of the user file format (the v2 form as queryUsers answers it), in chunks. */
export async function* apiChunks(source: StreamServer, afterId: string | undefined, limits: ChunkLimits): AsyncGenerator<Chunk> {
  let seq = 0;
  let lines: string[] = [];
  let bytes = 0;
  let lastId = afterId;
  for await (const users of apiPages(source, afterId)) {
    for (const user of users) {
      const text = toJsonText(user);
      if (lines.length > 0 && (lines.length >= limits.lines || bytes + text.length + 1 > limits.bytes)) {
        yield { seq: seq++, lines, firstLine: undefined, end: { lastId: lastId! } };
        lines = [];
        bytes = 0;
      }
      lines.push(text);
      bytes += Buffer.byteLength(text) + 1;
      lastId = user.id as string;
    }
  }
  if (lines.length > 0) yield { seq: seq++, lines, firstLine: undefined, end: { lastId: lastId! } };
}
