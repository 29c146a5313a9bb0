// POST /api/v2/users: create or replace up to 100 users in one statement.
import { sql } from 'kysely';
import { inputError } from '../http/errors.js';
import type { UserRow } from './representation.js';
import type { UserRequest } from './schemas.js';
import { UPSERTED_USER_COLUMNS, findUsersByIds, inIdOrder, type Executor } from './store.js';
import { checkBatchSize, checkCustomKeys, checkUserId, checkUserSize } from './validation.js';

/** What an upsert stores for one user; absent fields are cleared, except role and teams. */
interface UpsertInput {
  id: string;
  name: string | null;
  image: string | null;
  role: string | null;
  teams: string[] | null;
  teams_role: Record<string, string> | null;
  language: string | null;
  invisible: boolean | null;
  privacy_settings: Record<string, unknown> | null;
  custom: Record<string, unknown>;
}

/** Validates one user and returns what to store, with its JSON (measured for the size rule, sent as is). */
export function toUpsertInput(user: UserRequest): { input: UpsertInput; json: string } {
  checkUserId(user.id);
  const custom = user.custom ?? {};
  checkCustomKeys(custom);
  const input: UpsertInput = {
    id: user.id,
    name: user.name ?? null,
    image: user.image ?? null,
    role: user.role ?? null,
    teams: user.teams && user.teams.length > 0 ? user.teams : null,
    teams_role: user.teams_role ?? null,
    language: user.language ?? null,
    invisible: user.invisible ?? null,
    privacy_settings: user.privacy_settings ?? null,
    custom,
  };
  return { input, json: checkUserSize(input) };
}

/**
 * Replace semantics: the fields sent replace the stored ones and name, image, custom, language, invisible,
 * privacy_settings and teams_role that are not sent are cleared; role and teams keep their stored values when
 * omitted. Server-kept fields are never touched.
 *
 * One statement, atomic on its own (it needs no surrounding transaction): it first locks the batch's existing users
 * in id order and reads their latest state, and writes nothing at all when any of them is deactivated or deleted.
 */
export async function upsertUsers(executor: Executor, users: UserRequest[]): Promise<UserRow[]> {
  checkBatchSize(users.length);
  const byId = new Map<string, { input: UpsertInput; json: string }>();
  for (const user of users) byId.set(user.id, toUpsertInput(user)); // last one wins, as in the SDK's map
  const inputs = [...byId.values()];

  const result = await sql<UserRow>`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${`[${inputs.map((i) => i.json).join(',')}]`}::jsonb) AS i(
        id text, name text, image text, role text, teams text[], teams_role jsonb, language text,
        invisible boolean, privacy_settings jsonb, custom jsonb)
    )
    , existing AS (
      SELECT u.id, u.deactivated_at, u.deleted_at FROM users u JOIN input i ON i.id = u.id
      ORDER BY u.id
      FOR UPDATE OF u
    )
    INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom)
    SELECT i.id, i.name, i.image, coalesce(i.role, 'user'), coalesce(i.language, ''), coalesce(i.teams, '{}'),
           i.teams_role, coalesce(i.invisible, false), i.privacy_settings, coalesce(i.custom, '{}')
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.deactivated_at IS NOT NULL OR e.deleted_at IS NOT NULL)
    ORDER BY i.id
    ON CONFLICT (id) DO UPDATE SET
      name = excluded.name,
      image = excluded.image,
      language = excluded.language,
      teams_role = excluded.teams_role,
      invisible = excluded.invisible,
      privacy_settings = excluded.privacy_settings,
      custom = excluded.custom,
      -- excluded.role/teams hold the defaults for new users; what was actually sent is in input
      role = coalesce((SELECT i.role FROM input i WHERE i.id = excluded.id), users.role),
      teams = coalesce((SELECT i.teams FROM input i WHERE i.id = excluded.id), users.teams),
      updated_at = now()
    WHERE users.deactivated_at IS NULL AND users.deleted_at IS NULL
    RETURNING ${UPSERTED_USER_COLUMNS}`.execute(executor);

  const ids = inputs.map(({ input }) => input.id);
  if (result.rows.length < inputs.length) {
    // Nothing was written: say why.
    const written = new Set(result.rows.map((row) => row.id));
    const refused = await findUsersByIds(executor, ids.filter((id) => !written.has(id)));
    for (const user of refused) {
      if (user.deleted_at !== null) throw inputError(`user "${user.id}" was deleted, it can't be updated`);
      if (user.deactivated_at !== null) throw inputError(`user "${user.id}" was deactivated, reactivate it before updating`);
    }
    throw new Error(`upsert wrote ${result.rows.length} of ${inputs.length} users without a refused one`);
  }
  return inIdOrder(result.rows, ids);
}
