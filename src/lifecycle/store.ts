// The tombstones of hard-deleted users (user_tombstones), by the keyed hashes of their ids (tombstones.ts). The users'
// own lifecycle columns are written by the users store (users/store/lifecycle.ts).
import { sql } from 'kysely';
import type { Db, Tx } from '../db/schema.js';

/** Records the hard deletion of users by the keyed hashes of their ids (a later one of the same id moves the date). */
export async function insertTombstones(trx: Tx, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  await sql`
    INSERT INTO user_tombstones (id_hash) VALUES ${sql.join(hashes.map((hash) => sql`(${hash})`))}
    ON CONFLICT (id_hash) DO UPDATE SET deleted_at = now()`.execute(trx);
}

/** Which of these hashes have a tombstone. */
export async function findTombstones(db: Db, hashes: readonly string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await db.selectFrom('user_tombstones').select('id_hash').where('id_hash', 'in', [...hashes]).execute();
  return new Set(rows.map((row) => row.id_hash));
}
