// Keyed hashes of user ids, for the tombstones of hard-deleted users (lifecycle/store.ts): HMAC-SHA256 under a key
// kept in the database, so that a tombstone says nothing about whom it was for to anyone without the key.
import { createHmac } from 'node:crypto';
import { tombstoneKey } from '../app-settings/store.js';
import type { Db } from '../db/schema.js';

export class TombstoneHasher {
  private key: string | undefined;

  /** The hashes of `ids`, in order. `db` reads the key the first time: a transaction's handle inside one. */
  async hashes(db: Db, ids: readonly string[]): Promise<string[]> {
    this.key ??= await tombstoneKey(db);
    const key = this.key;
    return ids.map((id) => createHmac('sha256', key).update(id).digest('hex'));
  }
}
