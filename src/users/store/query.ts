// queryUsers as one SELECT: Stream's filter language compiled to parameterized SQL (filter.ts), paging and sorting.
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/schema.js';
import { DEFAULT_LIMITS, type InputLimits } from '../../limits.js';
import type { UserRow } from '../representation.js';
import type { QueryUsersPayload } from '../schemas.js';
import { compileFilter, compileSort } from './filter.js';
import { USER_COLUMNS } from './users.js';

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

/** The SELECT statement of a query, built without running it (queryUsers runs it; tests EXPLAIN it). */
export function buildQueryUsersSql(payload: QueryUsersPayload, scope: QueryScope = {}, limits: InputLimits = DEFAULT_LIMITS): RawBuilder<UserRow> {
  const conditions: RawBuilder<unknown>[] = scope.includeDeleted ? [] : [sql`users.deleted_at IS NULL`];
  if (!payload.include_deactivated_users) conditions.push(sql`users.deactivated_at IS NULL`);
  conditions.push(sql`(${compileFilter(payload.filter_conditions ?? {}, limits)})`);
  const scoped = scopeCondition(scope);
  if (scoped) conditions.push(sql`(${scoped})`);
  // Docs-era id pagination, still accepted.
  if (payload.id_gt !== undefined) conditions.push(sql`users.id > ${payload.id_gt}`);
  if (payload.id_gte !== undefined) conditions.push(sql`users.id >= ${payload.id_gte}`);
  if (payload.id_lt !== undefined) conditions.push(sql`users.id < ${payload.id_lt}`);
  if (payload.id_lte !== undefined) conditions.push(sql`users.id <= ${payload.id_lte}`);

  const usesIdPaging = [payload.id_gt, payload.id_gte, payload.id_lt, payload.id_lte].some((v) => v !== undefined);
  const sort = payload.sort && payload.sort.length > 0 ? payload.sort : usesIdPaging ? [{ field: 'id', direction: -1 }] : undefined;
  const limit = payload.limit || DEFAULT_LIMIT;
  const offset = payload.offset ?? 0;

  const where = sql.join(conditions, sql` AND `);
  // PostgreSQL cannot estimate how many names a word prefix matches, and with a LIMIT it may walk the sort index and
  // filter every row for a rare prefix. `OFFSET 0` keeps the matching rows a subquery of their own (found through the
  // word index), which are then sorted.
  const source = JSON.stringify(payload.filter_conditions ?? {}).includes('"$autocomplete"')
    ? sql`(SELECT * FROM users WHERE ${where} OFFSET 0) AS users`
    : sql`users WHERE ${where}`;
  return sql<UserRow>`
    SELECT ${USER_COLUMNS} FROM ${source}
    ORDER BY ${compileSort(sort, limits)}
    LIMIT ${limit} OFFSET ${offset}`;
}

export async function selectQueriedUsers(db: Db, payload: QueryUsersPayload, scope: QueryScope, limits: InputLimits): Promise<UserRow[]> {
  const result = await buildQueryUsersSql(payload, scope, limits).execute(db);
  return result.rows;
}
