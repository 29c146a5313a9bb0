// How common a name word prefix is, from the statistics ANALYZE keeps on users_name_words_idx: the most common words
// (lexemes) of to_tsvector('simple', coalesce(name, '')) and the share of users whose name holds each. The query of a
// name $autocomplete picks its plan from this (see query.ts). Read once per database and kept for a short while; a
// table never analyzed (or too small for common words) has none, and every prefix then counts as rare.
import { sql } from 'kysely';
import type { Db } from '../../db/schema.js';

/** How long statistics read from the database are used before they are read again. */
const STATS_TTL_MS = 60_000;

export interface NameWordStats {
  /** The most common words, each with the share of users (0–1) whose name holds it. */
  words: ReadonlyMap<string, number>;
  /** The planner's estimate of the number of users (pg_class.reltuples; 0 or less when unknown). */
  users: number;
}

const NO_STATS: NameWordStats = { words: new Map(), users: 0 };

const cache = new WeakMap<Db, { at: number; stats: Promise<NameWordStats> }>();

/** The statistics of `db`, from the cache when read in the last STATS_TTL_MS. Never rejects: no statistics instead. */
export function nameWordStats(db: Db, now = Date.now()): Promise<NameWordStats> {
  const cached = cache.get(db);
  if (cached && now - cached.at < STATS_TTL_MS) return cached.stats;
  const stats = readNameWordStats(db).catch(() => NO_STATS);
  cache.set(db, { at: now, stats });
  return stats;
}

/** Drops the cached statistics of `db` (tests that ANALYZE and want them read again). */
export function forgetNameWordStats(db: Db): void {
  cache.delete(db);
}

async function readNameWordStats(db: Db): Promise<NameWordStats> {
  // Statistics on an expression index are stored under the index; most_common_elem_freqs holds one frequency per
  // element, then the minimum, maximum and null frequencies.
  const result = await sql<{ elems: string[] | null; freqs: Array<number | string> | null; reltuples: number | string | null }>`
    SELECT (SELECT s.most_common_elems::text::text[] FROM pg_stats s
             WHERE s.schemaname = current_schema() AND s.tablename = 'users_name_words_idx' LIMIT 1) AS elems,
           (SELECT s.most_common_elem_freqs::float8[] FROM pg_stats s
             WHERE s.schemaname = current_schema() AND s.tablename = 'users_name_words_idx' LIMIT 1) AS freqs,
           (SELECT c.reltuples::float8 FROM pg_class c WHERE c.oid = 'users'::regclass) AS reltuples`.execute(db);
  const row = result.rows[0];
  if (!row) return NO_STATS;
  const words = new Map<string, number>();
  const elems = row.elems ?? [];
  const freqs = row.freqs ?? [];
  if (freqs.length >= elems.length) {
    elems.forEach((word, i) => words.set(word, Number(freqs[i])));
  }
  return { words, users: Number(row.reltuples ?? 0) };
}

/**
 * A lower bound of the share of users whose name matches every one of the prefix `words` (as the $autocomplete
 * tsquery does), 0 when a word starts no common word. For one word it is the largest frequency among the common words
 * it starts (a name holding that word matches); for several, the product of those (independence assumed).
 */
export function prefixShare(stats: NameWordStats, words: readonly string[]): number {
  let share = 1;
  for (const prefix of words) {
    let best = 0;
    for (const [word, frequency] of stats.words) {
      if (word.startsWith(prefix) && frequency > best) best = frequency;
    }
    share *= best;
  }
  return share;
}

/**
 * PostgreSQL's own estimate of a word prefix's share when the words have fewer than 100 common ones (as names drawn
 * from a few hundred first and last names do): DEFAULT_TS_MATCH_SEL × 4 in ts_selfuncs.c, whatever the prefix.
 */
const PLANNER_PREFIX_SHARE = 0.02;

/**
 * Whether walking users in the default order (created_at DESC, id DESC) and testing each name is cheaper than
 * collecting every match through the word index and sorting it: the walk reads about (offset + limit) / share users,
 * the match set holds share × users. Also, the planner must see the walk as reading well under the whole table (it
 * prices it at (offset + limit) / 2%): otherwise it would scan and sort every user, worse than the match set.
 */
export function walkIsCheaper(stats: NameWordStats, words: readonly string[], rowsNeeded: number): boolean {
  const share = prefixShare(stats, words);
  if (share <= 0 || stats.users <= 0) return false;
  return rowsNeeded / share < share * stats.users && rowsNeeded / PLANNER_PREFIX_SHARE <= stats.users / 4;
}
