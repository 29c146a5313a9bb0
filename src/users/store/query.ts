// queryUsers as one SELECT: Stream's filter language compiled to parameterized SQL (filter.ts), paging and sorting.
import { sql, type RawBuilder } from 'kysely';
import type { Db, UserRow } from '../../db/schema.js';
import { DEFAULT_LIMITS, type InputLimits } from '../../limits.js';
import type { QueryUsersPayload } from '../schemas.js';
import { compileFilter, compileSort, soleNameAutocompleteWords } from './filter.js';
import { USER_COLUMNS } from './users.js';
import { nameWordStats, prefixShare, walkIsCheaper } from './word-stats.js';

const DEFAULT_LIMIT = 30;

/** What the caller's identity restricts a query to. */
export interface QueryScope {
  /** A client-side query in a multi-tenant app: users sharing a team with the caller, and the caller. */
  teamsOf?: { userId: string; teams: readonly string[] };
  /** The operator's dashboard: deleted users are listed too (soft-deleted and pruned ones, until a task removes them). */
  includeDeleted?: boolean;
}

/** The scope as SQL, the same condition wherever a caller's team scope applies. */
function scopeCondition(scope: QueryScope): RawBuilder<boolean> | undefined {
  if (!scope.teamsOf) return undefined;
  const { userId, teams } = scope.teamsOf;
  return teams.length > 0
    ? sql<boolean>`(users.teams && ARRAY[${sql.join(teams.map((t) => sql`${t}::text`))}] OR users.id = ${userId})`
    : sql<boolean>`users.id = ${userId}`;
}

/**
 * How a query with $autocomplete finds its rows. 'match-set': every matching user through the word index, in a
 * subquery of its own, then sorted (cheap when few users match). 'ordered-walk': the plain statement, with the name
 * test written so that the word index cannot serve it; the planner then walks users_created_at_id_idx in the default
 * order and tests each name, stopping after offset + limit matches (cheap when many match). Both return the same rows
 * in the same order.
 */
export type AutocompletePlan = 'match-set' | 'ordered-walk' | 'word-list';

/**
 * The prefix a 'word-list' plan looks up in user_name_words (migration 014): the longest word of a name
 * $autocomplete, when every word is ASCII lower-case letters and digits (as its lexeme then is: the range scan's
 * bounds are byte-wise, the table's words are in the "C" collation). Undefined otherwise.
 */
function wordListPrefix(words: readonly string[] | undefined): string | undefined {
  if (!words || words.length === 0 || !words.every((word) => /^[a-z0-9]+$/.test(word))) return undefined;
  return words.reduce((longest, word) => (word.length > longest.length ? word : longest));
}

/** The first string after every string that starts with `prefix` (ASCII letters and digits), byte-wise. */
function prefixUpperBound(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** The SELECT statement of a query, built without running it (queryUsers runs it; tests EXPLAIN it). */
export function buildQueryUsersSql(
  payload: QueryUsersPayload,
  scope: QueryScope = {},
  limits: InputLimits = DEFAULT_LIMITS,
  autocompletePlan: AutocompletePlan = 'match-set',
): RawBuilder<UserRow> {
  const conditions: RawBuilder<unknown>[] = scope.includeDeleted ? [] : [sql`users.deleted_at IS NULL`];
  if (!payload.include_deactivated_users) conditions.push(sql`users.deactivated_at IS NULL`);
  conditions.push(sql`(${compileFilter(payload.filter_conditions ?? {}, limits, { nameWordIndex: autocompletePlan === 'match-set' })})`);
  // 'word-list' applies to a sole name $autocomplete in the default order (chooseAutocompletePlan); anything else
  // falls back to the match set.
  const listPrefix = autocompletePlan === 'word-list' && effectiveSort(payload) === undefined && !scope.teamsOf
    ? wordListPrefix(soleNameAutocompleteWords(payload.filter_conditions, limits))
    : undefined;
  if (autocompletePlan === 'word-list' && listPrefix === undefined) return buildQueryUsersSql(payload, scope, limits, 'match-set');
  const scoped = scopeCondition(scope);
  if (scoped) conditions.push(sql`(${scoped})`);
  // Docs-era id pagination, still accepted.
  if (payload.id_gt !== undefined) conditions.push(sql`users.id > ${payload.id_gt}`);
  if (payload.id_gte !== undefined) conditions.push(sql`users.id >= ${payload.id_gte}`);
  if (payload.id_lt !== undefined) conditions.push(sql`users.id < ${payload.id_lt}`);
  if (payload.id_lte !== undefined) conditions.push(sql`users.id <= ${payload.id_lte}`);

  const sort = effectiveSort(payload);
  const limit = payload.limit || DEFAULT_LIMIT;
  const offset = payload.offset ?? 0;

  const where = sql.join(conditions, sql` AND `);
  // PostgreSQL cannot estimate how many names a word prefix matches unless the word is among the most common ones, and
  // with a LIMIT it may walk the sort index and filter every row for a rare prefix. `OFFSET 0` keeps the matching rows
  // a subquery of their own (found through the word index), which are then sorted. A common prefix is better served
  // by the walk (see chooseAutocompletePlan).
  //
  // 'word-list': the users whose name has a word starting with the prefix, newest first, from user_name_words'
  // primary key (word, created_at, user_id) without reading users; each is then looked up by id, tested against the
  // whole filter (the name's own tsvector included) and the walk stops once the page is full. The join on created_at
  // lets the planner see the candidates' order as the page's (and drops a word row left from an older user of that id).
  const source =
    listPrefix !== undefined
      ? sql`(SELECT DISTINCT w.created_at AS listed_at, w.user_id AS listed_id FROM user_name_words w
             WHERE w.word >= ${listPrefix} AND w.word < ${prefixUpperBound(listPrefix)}
             ORDER BY listed_at DESC, listed_id DESC OFFSET 0) AS listed
           JOIN users ON users.id = listed.listed_id AND users.created_at = listed.listed_at
           WHERE ${where}`
      : autocompletePlan === 'match-set' && JSON.stringify(payload.filter_conditions ?? {}).includes('"$autocomplete"')
        ? sql`(SELECT * FROM users WHERE ${where} OFFSET 0) AS users`
        : sql`users WHERE ${where}`;
  const orderBy = compileSort(sort, limits);
  // The page is cut first and only its rows get the blocked ids and online lookups: selected with the rows, they
  // would also be computed for every row the OFFSET skips. The page is sorted again (at most `limit` rows; the order
  // is total, ending on id) since a subquery's order is not kept by the outer query.
  return sql<UserRow>`
    SELECT ${USER_COLUMNS} FROM (
      SELECT users.* FROM ${source}
      ORDER BY ${orderBy}
      LIMIT ${limit} OFFSET ${offset}
    ) AS users
    ORDER BY ${orderBy}`;
}

function effectiveSort(payload: QueryUsersPayload): QueryUsersPayload['sort'] {
  const usesIdPaging = [payload.id_gt, payload.id_gte, payload.id_lt, payload.id_lte].some((v) => v !== undefined);
  return payload.sort && payload.sort.length > 0 ? payload.sort : usesIdPaging ? [{ field: 'id', direction: -1 }] : undefined;
}

/**
 * The plan of a query: 'ordered-walk' for a filter that is only a name $autocomplete in the default order, unscoped,
 * whose prefix the word statistics show common enough that walking the default order finds offset + limit matches
 * sooner than collecting every match would; 'match-set' otherwise (also when there are no statistics).
 */
export async function chooseAutocompletePlan(db: Db, payload: QueryUsersPayload, scope: QueryScope, limits: InputLimits): Promise<AutocompletePlan> {
  if (effectiveSort(payload) !== undefined || scope.teamsOf) return 'match-set';
  const words = soleNameAutocompleteWords(payload.filter_conditions, limits);
  if (!words) return 'match-set';
  const rowsNeeded = (payload.limit || DEFAULT_LIMIT) + (payload.offset ?? 0);
  if (walkIsCheaper(await nameWordStats(db), words, rowsNeeded)) return 'ordered-walk';
  return wordListPrefix(words) !== undefined ? 'word-list' : 'match-set';
}

/** Matches of a name prefix few enough to collect and sort at once. */
const FEW_MATCHES = 1_000;

/**
 * Whether a query's filter is a name $autocomplete alone whose prefix the word statistics show rare (it starts no
 * common word, or common words of at most FEW_MATCHES users): its matches, read through the word index, are few,
 * whatever the planner guesses (it prices every prefix at 2% of the users, see word-stats.ts).
 */
export async function isRareNameAutocomplete(db: Db, payload: QueryUsersPayload, limits: InputLimits): Promise<boolean> {
  const words = soleNameAutocompleteWords(payload.filter_conditions, limits);
  if (words === undefined) return false;
  const stats = await nameWordStats(db);
  return prefixShare(stats, words) * Math.max(stats.users, 0) <= FEW_MATCHES;
}

/** The statement of a query, with its $autocomplete plan chosen (see chooseAutocompletePlan). */
export async function prepareQueryUsers(db: Db, payload: QueryUsersPayload, scope: QueryScope, limits: InputLimits): Promise<RawBuilder<UserRow>> {
  return buildQueryUsersSql(payload, scope, limits, await chooseAutocompletePlan(db, payload, scope, limits));
}

export async function runQueryUsers(db: Db, statement: RawBuilder<UserRow>): Promise<UserRow[]> {
  return (await statement.execute(db)).rows;
}

export async function selectQueriedUsers(db: Db, payload: QueryUsersPayload, scope: QueryScope, limits: InputLimits): Promise<UserRow[]> {
  return runQueryUsers(db, await prepareQueryUsers(db, payload, scope, limits));
}

interface PlanNode {
  'Node Type': string;
  'Total Cost': number;
  'Parent Relationship'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

const WALKS = new Set(['Seq Scan', 'Index Scan', 'Index Only Scan']);

/**
 * The planner's cost of a query (EXPLAIN without ANALYZE: planned, not run), as the most it may read: the cost of
 * its page (the LIMIT), without the per-row lookups of blocks and presence, which the page size bounds. PostgreSQL
 * scales the cost of a scan under a LIMIT by the share of its rows it expects to read before the LIMIT is met. It has
 * no statistics on custom data, so for a scan filtered on a comparison of custom data (anything but containment,
 * `$eq`, which the GIN index serves) that share is a guess: such a scan counts at its full cost, as when few rows
 * match it reads them all.
 */
export async function plannedQueryCost(db: Db, statement: RawBuilder<UserRow>): Promise<number> {
  const result = await sql<{ 'QUERY PLAN': unknown }>`EXPLAIN (FORMAT JSON) ${statement}`.execute(db);
  const raw = result.rows[0]!['QUERY PLAN'];
  const [{ Plan: root }] = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [{ Plan: PlanNode }];
  let page: number | undefined;
  let walks = 0;
  const queue = [root];
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (node['Parent Relationship'] === 'SubPlan' || node['Parent Relationship'] === 'InitPlan') continue;
    if (page === undefined && node['Node Type'] === 'Limit') page = node['Total Cost'];
    if (WALKS.has(node['Node Type']) && node.Filter && estimatesCustomData(node.Filter)) walks = Math.max(walks, node['Total Cost']);
    queue.push(...(node.Plans ?? []));
  }
  return Math.max(page ?? root['Total Cost'], walks);
}

/** Whether a plan's filter tests custom data other than by containment (`custom @> '…'`). */
function estimatesCustomData(filter: string): boolean {
  return /custom(?!\s*@>)/.test(filter);
}
