// What a user token is worth at this moment: refused when its user is deactivated or deleted, or when it was issued
// before a revocation cut-off (the user's or the app's). Checked on every request from the stored state, so that
// reactivation, restore or clearing a cut-off gives the access back at once.
import { sql, type Kysely } from 'kysely';
import type { Database, Micros } from '../db/schema.js';
import { ErrorCode, StreamError } from '../http/errors.js';

export interface TokenUser {
  /** The user's row exists (a token may be for a user that its first request creates). */
  exists: boolean;
  teams: string[];
  role: string | null;
}

export async function checkUserToken(db: Kysely<Database>, userId: string, issuedAt: number | undefined): Promise<TokenUser> {
  const result = await sql<{
    user_id: string | null;
    role: string | null;
    teams: string[] | null;
    deactivated_at: Micros | null;
    deleted_at: Micros | null;
    user_cutoff: Micros | null;
    app_cutoff: Micros | null;
  }>`
    SELECT u.id AS user_id, u.role, u.teams, u.deactivated_at, u.deleted_at,
           u.revoke_tokens_issued_before AS user_cutoff, a.revoke_tokens_issued_before AS app_cutoff
    FROM (SELECT 1) AS one
    LEFT JOIN users u ON u.id = ${userId}
    LEFT JOIN app_settings a ON a.id = 1`.execute(db);
  const row = result.rows[0];
  if (row?.deleted_at != null) throw new StreamError(ErrorCode.Authentication, `user "${userId}" was deleted`);
  if (row?.deactivated_at != null) throw new StreamError(ErrorCode.Authentication, `user "${userId}" was deactivated`);
  for (const cutoff of [row?.user_cutoff ?? null, row?.app_cutoff ?? null]) {
    if (cutoff === null) continue;
    if (issuedAt === undefined) {
      throw new StreamError(ErrorCode.TokenExpired, 'JWTAuth error: tokens without an iat claim are not valid while tokens are revoked');
    }
    if (BigInt(Math.trunc(issuedAt)) * 1_000_000n < cutoff) {
      throw new StreamError(ErrorCode.TokenExpired, 'JWTAuth error: token has been revoked');
    }
  }
  return { exists: row?.user_id != null, teams: row?.teams ?? [], role: row?.role ?? null };
}

const ACTIVITY_INTERVAL_MS = 60_000;

/**
 * Records that a user was active: `last_active` (at most once a minute per user and process, not on every request)
 * and the user's row for this calendar month, which counts them as a monthly active user.
 */
export class ActivityRecorder {
  private readonly lastRecorded = new Map<string, number>();
  constructor(private readonly db: Kysely<Database>, private readonly now: () => number = Date.now) {}

  async record(userId: string): Promise<void> {
    const now = this.now();
    const last = this.lastRecorded.get(userId);
    if (last !== undefined && now - last < ACTIVITY_INTERVAL_MS) return;
    if (this.lastRecorded.size > 100_000) this.lastRecorded.clear();
    const updated = await sql`
      UPDATE users SET last_active = now() WHERE id = ${userId} AND deleted_at IS NULL`.execute(this.db);
    if (Number(updated.numAffectedRows ?? 0n) === 0) return; // not created yet: counted from its first request as a user
    await sql`
      INSERT INTO user_activity (month, user_id) VALUES (date_trunc('month', now())::date, ${userId})
      ON CONFLICT DO NOTHING`.execute(this.db);
    this.lastRecorded.set(userId, now);
  }
}
