// The dashboard's own table: sessions signed out before they expired (migrations/007_dashboard_sign_outs.sql).
import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/** Records a sign-out, and forgets those of sessions that have expired by `nowSeconds` anyway. */
export async function recordSignOut(db: Db, sessionId: string, expiresAtSeconds: number, nowSeconds: number): Promise<void> {
  await db
    .insertInto('dashboard_sign_outs')
    .values({ session_id: sessionId, expires_at: sql`to_timestamp(${expiresAtSeconds})` })
    .onConflict((oc) => oc.column('session_id').doNothing())
    .execute();
  await db.deleteFrom('dashboard_sign_outs').where('expires_at', '<', sql<Date>`to_timestamp(${nowSeconds})`).execute();
}

export async function isSignedOut(db: Db, sessionId: string): Promise<boolean> {
  const row = await db.selectFrom('dashboard_sign_outs').select('session_id').where('session_id', '=', sessionId).executeTakeFirst();
  return row !== undefined;
}
