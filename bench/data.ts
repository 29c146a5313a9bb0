// Benchmark data: realistic users (~300 bytes of JSON each) for the upsert runs, the same rows as bare-SQL
// parameters for the baseline, and an INSERT … SELECT generate_series that bulk-loads the query data set.
import { sql, type RawBuilder } from 'kysely';

export const FIRST_NAMES = [
  'Alice', 'Bruno', 'Chiara', 'Dmitri', 'Elena', 'Farid', 'Greta', 'Hiroshi', 'Ines', 'Jonas',
  'Kemal', 'Lucia', 'Mateo', 'Nadia', 'Oskar', 'Priya', 'Quentin', 'Rosa', 'Sven', 'Tamara',
];
export const LAST_NAMES = [
  'Anderson', 'Baptiste', 'Castillo', 'Dubois', 'Eriksen', 'Fischer', 'Gallagher', 'Hoffmann', 'Ivanova', 'Jansen',
  'Kowalski', 'Lindqvist', 'Moreau', 'Novak', 'Okafor', 'Petrov', 'Quinn', 'Rossi', 'Schmidt', 'Tanaka',
  'Uchida', 'Varga', 'Weber', 'Xu', 'Yilmaz', 'Zimmermann', 'Almeida', 'Bianchi', 'Costa', 'Delgado',
];
export const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'black', 'white'];
const COUNTRIES = ['NL', 'DE', 'FR', 'IT', 'ES', 'SE', 'PL', 'US', 'BR', 'JP', 'IN', 'NG'];
const PLANS = ['free', 'starter', 'pro', 'enterprise'];
const TEAMS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

/** What the benchmark sends for one user (a Stream UserRequest). */
export interface BenchUser {
  id: string;
  name: string;
  image: string;
  role: string;
  teams: string[];
  custom: Record<string, unknown>;
}

export function makeUser(prefix: string, i: number): BenchUser {
  const first = FIRST_NAMES[i % FIRST_NAMES.length]!;
  const last = LAST_NAMES[Math.floor(i / FIRST_NAMES.length) % LAST_NAMES.length]!;
  const id = `${prefix}${String(i).padStart(7, '0')}`;
  return {
    id,
    name: `${first} ${last}`,
    image: `https://cdn.example.com/avatars/${id}.png`,
    role: i % 50 === 0 ? 'admin' : 'user',
    teams: [TEAMS[i % TEAMS.length]!, TEAMS[(i + 3) % TEAMS.length]!],
    custom: {
      color: COLORS[(i * 7) % COLORS.length],
      age: 18 + (i % 60),
      country: COUNTRIES[i % COUNTRIES.length],
      plan: PLANS[i % PLANS.length],
      username: `${first.toLowerCase()}_${last.toLowerCase()}_${i}`,
      newsletter: i % 3 === 0,
      signup_source: i % 2 === 0 ? 'web' : 'ios',
    },
  };
}

/** `count` users with ids `<prefix>0000000`…, cut into batches of `batchSize`. */
export function makeBatches(prefix: string, count: number, batchSize: number): BenchUser[][] {
  const batches: BenchUser[][] = [];
  for (let start = 0; start < count; start += batchSize) {
    const batch: BenchUser[] = [];
    for (let i = start; i < Math.min(count, start + batchSize); i++) batch.push(makeUser(prefix, i));
    batches.push(batch);
  }
  return batches;
}

/** The body of POST /api/v2/users, serialized once up front so the client's cost stays out of the timed window. */
export function upsertBody(batch: BenchUser[]): Buffer {
  return Buffer.from(JSON.stringify({ users: Object.fromEntries(batch.map((user) => [user.id, user])) }));
}

export const BASELINE_COLUMNS = [
  'id', 'name', 'image', 'role', 'language', 'teams', 'teams_role', 'invisible', 'privacy_settings', 'custom',
] as const;

/**
 * The baseline statement for `rows` rows: a plain multi-row INSERT … ON CONFLICT (id) DO UPDATE of the columns the
 * server writes, with one parameter per value (what a hand-written pg client would do).
 */
export function baselineSql(table: string, rows: number): string {
  const width = BASELINE_COLUMNS.length;
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    tuples.push(`(${BASELINE_COLUMNS.map((_, c) => `$${r * width + c + 1}`).join(', ')})`);
  }
  const updates = BASELINE_COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`);
  return `INSERT INTO ${table} (${BASELINE_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
    ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}, updated_at = now()`;
}

/** The parameters of baselineSql: the same values the server stores for these users. */
export function baselineParams(batch: BenchUser[]): unknown[] {
  const params: unknown[] = [];
  for (const user of batch) {
    params.push(user.id, user.name, user.image, user.role, '', user.teams, null, false, null, JSON.stringify(user.custom));
  }
  return params;
}

const textArray = (items: readonly string[]) => sql.raw(`ARRAY[${items.map((s) => `'${s}'`).join(', ')}]`);

/**
 * Bulk-loads `count` users with ids q0000001…: the same shapes as makeUser (names from the same lists, so
 * $autocomplete prefixes hit, and custom.color spread evenly over COLORS), created one second apart.
 */
export function bulkLoadUsers(count: number): RawBuilder<unknown> {
  return sql`
    INSERT INTO users (id, name, image, role, teams, custom, created_at, updated_at)
    SELECT 'q' || lpad(i::text, 7, '0'),
           (${textArray(FIRST_NAMES)})[1 + i % ${sql.lit(FIRST_NAMES.length)}] || ' ' ||
             (${textArray(LAST_NAMES)})[1 + (i / ${sql.lit(FIRST_NAMES.length)}) % ${sql.lit(LAST_NAMES.length)}],
           'https://cdn.example.com/avatars/q' || lpad(i::text, 7, '0') || '.png',
           CASE WHEN i % 50 = 0 THEN 'admin' ELSE 'user' END,
           ARRAY[(${textArray(TEAMS)})[1 + i % ${sql.lit(TEAMS.length)}]],
           jsonb_build_object(
             'color', (${textArray(COLORS)})[1 + (i * 7) % ${sql.lit(COLORS.length)}],
             'age', 18 + i % 60,
             'country', (${textArray(COUNTRIES)})[1 + i % ${sql.lit(COUNTRIES.length)}],
             'plan', (${textArray(PLANS)})[1 + i % ${sql.lit(PLANS.length)}],
             'username', 'user_' || i,
             'newsletter', i % 3 = 0),
           ts, ts
    FROM generate_series(1, ${sql.lit(count)}) AS i,
         LATERAL (SELECT now() - make_interval(secs => ${sql.lit(count)} - i) AS ts) AS t`;
}

export function queryUserId(i: number): string {
  return `q${String(i).padStart(7, '0')}`;
}
