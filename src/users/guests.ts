// POST /api/v2/guest: a new user with role `guest` and a user token for it. The id is always fresh (the requested
// id plus a random suffix), so a guest can never obtain a token for an existing user.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { UserRow } from './representation.js';
import type { UserRequest } from './schemas.js';
import { USER_COLUMNS, type Executor } from './store.js';
import { toUpsertInput } from './upsert.js';

const SUFFIX_BYTES = 6;

export function guestId(requested: string): string {
  const suffix = randomBytes(SUFFIX_BYTES).toString('hex');
  return `${requested.slice(0, 255 - suffix.length - 1)}-${suffix}`;
}

export async function createGuest(executor: Executor, user: UserRequest): Promise<UserRow> {
  const { input } = toUpsertInput({ ...user, role: 'guest' });
  for (;;) {
    const id = guestId(input.id);
    const result = await sql<UserRow>`
      INSERT INTO users (id, name, image, role, language, teams, teams_role, invisible, privacy_settings, custom)
      VALUES (${id}, ${input.name}, ${input.image}, 'guest', ${input.language ?? ''}, '{}', ${JSON.stringify(input.teams_role)}::jsonb,
              ${input.invisible ?? false}, ${JSON.stringify(input.privacy_settings)}::jsonb, ${JSON.stringify(input.custom)}::jsonb)
      ON CONFLICT (id) DO NOTHING
      RETURNING ${USER_COLUMNS}`.execute(executor);
    if (result.rows[0]) return result.rows[0];
    // 48 random bits collided with an existing id: draw again.
  }
}
