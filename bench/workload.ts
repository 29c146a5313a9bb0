// The benchmark's data: the upsert workload (users {id, name, custom: {color, n}}, names from 10 first × 10 last
// names), its request bodies and the plain INSERT … ON CONFLICT of the baselines, the minimal baseline table, and
// the SQL that bulk-loads users and tasks without the API.
import { BATCH_SIZE } from './config.js';

export const FIRST_NAMES = ['Alice', 'Bruno', 'Chiara', 'Dmitri', 'Elena', 'Farid', 'Greta', 'Hiroshi', 'Ines', 'Jonas'];
export const LAST_NAMES = ['Anderson', 'Baptiste', 'Castillo', 'Dubois', 'Eriksen', 'Fischer', 'Gallagher', 'Hoffmann', 'Ivanova', 'Jansen'];
/**
 * In the query data set, one user in RARE_EVERY has this first name instead of Bruno (a rare $autocomplete prefix:
 * 50 of 1,000,000 users, 0.005%), so that Alice stays exactly 10%.
 */
export const RARE_FIRST_NAME = 'Xiomara';
export const RARE_EVERY = 20_000;
/** $autocomplete prefixes: the first matches every tenth user (Alice …), the second one in RARE_EVERY. */
export const COMMON_PREFIX = 'ali';
export const RARE_PREFIX = 'xio';
/**
 * In the query data set, one user in LATER_EVERY has this last name instead of the usual one (2,000 of 1,000,000
 * users): $autocomplete of LATER_PREFIX matches a later word of the name, on about 2,000 users.
 */
export const LATER_LAST_NAME = 'Quintero';
export const LATER_EVERY = 500;
export const LATER_PREFIX = 'quint';
export const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'black', 'white'];
export const TEAMS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

/** What the upsert workload sends for one user. */
export interface WorkloadUser {
  id: string;
  name: string;
  custom: { color: string; n: number };
}

export function userName(i: number): string {
  return `${FIRST_NAMES[i % FIRST_NAMES.length]} ${LAST_NAMES[Math.floor(i / FIRST_NAMES.length) % LAST_NAMES.length]}`;
}

export function makeUser(prefix: string, i: number): WorkloadUser {
  return { id: `${prefix}${String(i).padStart(7, '0')}`, name: userName(i), custom: { color: COLORS[i % COLORS.length]!, n: i } };
}

/** `count` users with ids `<prefix>0000000`…, in batches of BATCH_SIZE. */
export function makeBatches(prefix: string, count: number): WorkloadUser[][] {
  const batches: WorkloadUser[][] = [];
  for (let start = 0; start < count; start += BATCH_SIZE) {
    const batch: WorkloadUser[] = [];
    for (let i = start; i < Math.min(count, start + BATCH_SIZE); i++) batch.push(makeUser(prefix, i));
    batches.push(batch);
  }
  return batches;
}

/** The body of POST /api/v2/users, serialized up front so that the client's cost stays out of the timed window. */
export function upsertBody(batch: WorkloadUser[]): Buffer {
  return Buffer.from(JSON.stringify({ users: Object.fromEntries(batch.map((user) => [user.id, user])) }));
}

/**
 * The baselines' statement for `rows` users: a plain multi-row INSERT … ON CONFLICT (id) DO UPDATE with one bind
 * parameter per value, what a hand-written pg client does. The same text serves the minimal table and the server's
 * own users table (whose other columns take their defaults, which is what the server stores for these users).
 */
export function plainUpsertSql(table: string, rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`($${3 * r + 1}, $${3 * r + 2}, $${3 * r + 3}::jsonb)`);
  return `INSERT INTO ${table} (id, name, custom) VALUES ${tuples.join(', ')}
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, custom = excluded.custom, updated_at = now()`;
}

export function plainUpsertParams(batch: WorkloadUser[]): unknown[] {
  const params: unknown[] = [];
  for (const user of batch) params.push(user.id, user.name, JSON.stringify(user.custom));
  return params;
}

/** The minimal baseline table of the issue: the columns the workload needs and the indexes its queries need. */
export const MINIMAL_TABLE = 'bench_minimal_users';
export const MINIMAL_TABLE_DDL = [
  `CREATE TABLE ${MINIMAL_TABLE} (
     id text PRIMARY KEY,
     name text,
     custom jsonb NOT NULL DEFAULT '{}',
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX ${MINIMAL_TABLE}_name_idx ON ${MINIMAL_TABLE} (lower(name) text_pattern_ops)`,
  `CREATE INDEX ${MINIMAL_TABLE}_custom_idx ON ${MINIMAL_TABLE} USING gin (custom jsonb_path_ops)`,
  `CREATE INDEX ${MINIMAL_TABLE}_created_at_id_idx ON ${MINIMAL_TABLE} (created_at, id)`,
];

/** A digest of what a table holds for the workload's columns, to check that every path stored the same users. */
export function contentDigestSql(table: string): string {
  return `SELECT count(*)::int AS n, md5(coalesce(string_agg(id || '|' || coalesce(name, '') || '|' || custom::text, ',' ORDER BY id), '')) AS digest FROM ${table}`;
}

const textArray = (items: readonly string[]) => `ARRAY[${items.map((s) => `'${s}'`).join(', ')}]`;

export function queryUserId(i: number): string {
  return `q${String(i).padStart(7, '0')}`;
}

/**
 * One INSERT … SELECT of `count` users with ids q0000001…: names from the 10 × 10 lists (one in RARE_EVERY with the
 * rare first name, one in LATER_EVERY with the later-word last name), custom {color, n}, one team, created one second apart (q<count> is the newest).
 */
export function bulkLoadUsersSql(count: number): string {
  const first = `(CASE WHEN i % ${RARE_EVERY} = 1 THEN '${RARE_FIRST_NAME}' ELSE (${textArray(FIRST_NAMES)})[1 + i % ${FIRST_NAMES.length}] END)`;
  const last = `(CASE WHEN i % ${LATER_EVERY} = 7 THEN '${LATER_LAST_NAME}' ELSE (${textArray(LAST_NAMES)})[1 + (i / ${FIRST_NAMES.length}) % ${LAST_NAMES.length}] END)`;
  return `
    INSERT INTO users (id, name, teams, custom, created_at, updated_at)
    SELECT 'q' || lpad(i::text, 7, '0'), ${first} || ' ' || ${last},
           ARRAY[(${textArray(TEAMS)})[1 + i % ${TEAMS.length}]],
           jsonb_build_object('color', (${textArray(COLORS)})[1 + i % ${COLORS.length}], 'n', i),
           ts, ts
    FROM generate_series(1, ${count}) AS i,
         LATERAL (SELECT now() - make_interval(secs => ${count} - i) AS ts) AS t`;
}

/** Users t0000000… for the task section: plain rows, as an upsert would store them. */
export function taskUsersSql(count: number): string {
  return `
    INSERT INTO users (id, name, custom)
    SELECT 't' || lpad(i::text, 7, '0'), (${textArray(FIRST_NAMES)})[1 + i % ${FIRST_NAMES.length}] || ' Task', jsonb_build_object('n', i)
    FROM generate_series(0, ${count - 1}) AS i`;
}

export function taskUserId(i: number): string {
  return `t${String(i).padStart(7, '0')}`;
}

/**
 * `count` DeactivateUsers tasks of one user each (users t<from>…), as enqueueTask (src/tasks/queue.ts) writes them:
 * a pending row with payload {user_ids, options}, max_attempts as the server's default (TASK_MAX_ATTEMPTS, 5).
 */
export function drainTasksSql(from: number, count: number, maxAttempts = 5): string {
  return `
    INSERT INTO tasks (id, type, payload, max_attempts)
    SELECT gen_random_uuid(), 'DeactivateUsers',
           jsonb_build_object('user_ids', jsonb_build_array('t' || lpad(i::text, 7, '0')), 'options', '{}'::jsonb),
           ${maxAttempts}
    FROM generate_series(${from}, ${from + count - 1}) AS i`;
}
