// GET /api/v2/users: Stream's filter language compiled to parameterized SQL (filter.ts), with paging and sorting.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { sql, type RawBuilder } from 'kysely';
import { inputError } from '../http/errors.js';
import { compileFilter, compileSort } from './filter.js';
import type { UserRow } from './representation.js';
import { QueryUsersPayload, UserRequest } from './schemas.js';
import { USER_COLUMNS, type Executor } from './store.js';

const DEFAULT_LIMIT = 30;
const payloadCheck = TypeCompiler.Compile(QueryUsersPayload, [UserRequest]);

/** Reads the `payload` query parameter; absent means an empty filter. */
export function parseQueryPayload(raw: string | undefined): QueryUsersPayload {
  if (raw === undefined || raw === '') return {};
  let payload: unknown;
  try {
    payload = JSON.parse(raw);
  } catch {
    throw inputError('payload is not valid JSON');
  }
  if (!payloadCheck.Check(payload)) {
    const first = payloadCheck.Errors(payload).First();
    const where = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : 'payload';
    throw inputError(`${where || 'payload'}: ${first?.message ?? 'is invalid'}`);
  }
  return payload;
}

export interface QueryScope {
  /** Extra condition imposed by the caller's identity (team scoping of client-side queries). */
  where?: RawBuilder<boolean>;
}

/** The SELECT statement of a query, built without running it (queryUsers runs it; tests EXPLAIN it). */
export function buildQueryUsersSql(payload: QueryUsersPayload, scope: QueryScope = {}): RawBuilder<UserRow> {
  const conditions: RawBuilder<unknown>[] = [sql`users.deleted_at IS NULL`];
  if (!payload.include_deactivated_users) conditions.push(sql`users.deactivated_at IS NULL`);
  conditions.push(sql`(${compileFilter(payload.filter_conditions ?? {})})`);
  if (scope.where) conditions.push(sql`(${scope.where})`);
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
    ORDER BY ${compileSort(sort)}
    LIMIT ${limit} OFFSET ${offset}`;
}

export async function queryUsers(executor: Executor, payload: QueryUsersPayload, scope: QueryScope = {}): Promise<UserRow[]> {
  const result = await buildQueryUsersSql(payload, scope).execute(executor);
  return result.rows;
}
