// The connecting user's `user_details` (stream-chat's flattened user, reference §7.1) applied under the client-side
// rules: a new user is created with role `user`; an existing one gets only the fields sent merged in, and only
// when they differ from what is stored (a reconnect that changes nothing writes nothing). Never role, teams or
// teams_role, never server-kept fields; connecting never removes anything, so a client that sends fewer fields
// keeps the custom data stored before.
import { sql, type Kysely } from 'kysely';
import { getAppSettings } from '../app-settings/service.js';
import type { Database, JsonObject } from '../db/schema.js';
import { inputError } from '../http/errors.js';
import { updateUserPartial } from '../users/partial-update.js';
import type { UserRow } from '../users/representation.js';
import type { UserRequest } from '../users/schemas.js';
import { findUsersByIds } from '../users/store.js';
import { upsertUsers } from '../users/upsert.js';
import { checkUniqueUsernames, lockUsernames } from '../users/usernames.js';
import { RESERVED_FIELDS } from '../users/validation.js';

/** Built-in fields a client may set about itself on connect. */
const CLIENT_FIELDS = ['name', 'image', 'language', 'invisible', 'privacy_settings'] as const;
type ClientField = (typeof CLIENT_FIELDS)[number];

/** Markers stream-chat adds to its own user object that are no user data. */
const CLIENT_MARKERS = new Set(['anon']);

interface Details {
  fields: Partial<Record<ClientField, unknown>>;
  custom: Record<string, unknown>;
}

const PRIVACY_KEYS = new Set(['typing_indicators', 'read_receipts', 'delivery_receipts']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The types the v2 UserRequest schema gives these fields (the HTTP routes check them with TypeBox). */
function checkField(key: ClientField, value: unknown) {
  const wrong = (expected: string) => inputError(`user_details.${key} must be ${expected}`);
  switch (key) {
    case 'name':
    case 'image':
    case 'language':
      if (typeof value !== 'string') throw wrong('a string');
      return;
    case 'invisible':
      if (typeof value !== 'boolean') throw wrong('a boolean');
      return;
    case 'privacy_settings':
      if (!isPlainObject(value)) throw wrong('an object');
      for (const [setting, state] of Object.entries(value)) {
        if (!PRIVACY_KEYS.has(setting)) throw wrong(`an object of ${[...PRIVACY_KEYS].join(', ')}`);
        if (!isPlainObject(state) || typeof state.enabled !== 'boolean') {
          throw inputError(`user_details.privacy_settings.${setting} must be an object {"enabled": true or false}`);
        }
      }
  }
}

export function splitDetails(details: Record<string, unknown>): Details {
  const fields: Details['fields'] = {};
  const custom: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if ((CLIENT_FIELDS as readonly string[]).includes(key)) {
      // null would clear the field: connecting never removes data.
      if (value === null || value === undefined) continue;
      checkField(key as ClientField, value);
      fields[key as ClientField] = value;
    } else if (!RESERVED_FIELDS.has(key) && !CLIENT_MARKERS.has(key) && value !== undefined) {
      custom[key] = value;
    }
  }
  return { fields, custom };
}

/** Deep equality of JSON values, object keys in any order (jsonb does not keep the order they were sent in). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameJson(item, other[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return keys.length === Object.keys(right).length && keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]));
}

/** Whether deep-merging `patch` into `stored` (as a partial update merges privacy_settings) would change it. */
function mergeChanges(stored: unknown, patch: unknown): boolean {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return !sameJson(stored, patch);
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return true;
  const current = stored as Record<string, unknown>;
  return Object.entries(patch).some(([key, value]) => !Object.hasOwn(current, key) || mergeChanges(current[key], value));
}

/** The partial update that brings `row` up to date with the details sent, or undefined when nothing differs. */
export function changesFor(row: UserRow, details: Details): Record<string, unknown> | undefined {
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details.fields) as Array<[ClientField, unknown]>) {
    const changed = key === 'privacy_settings' ? mergeChanges(row.privacy_settings, value) : !sameJson(row[key], value);
    if (changed) set[key] = value;
  }
  const custom: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details.custom)) {
    if (!Object.hasOwn(row.custom, key) || !sameJson(row.custom[key], value)) custom[key] = value;
  }
  // Custom fields go under `custom`, which a partial update sets key by key, literally: a key with a dot is a
  // custom field of that name here, as on a v1 upsert, not a path.
  if (Object.keys(custom).length > 0) set.custom = custom;
  return Object.keys(set).length > 0 ? set : undefined;
}

/**
 * Creates or updates the connecting user, in one transaction. Concurrent connects of the same user are serialized
 * by a transaction-scoped advisory lock, so that two first connections can't both create (and the second replace)
 * the user. A name written is held to the app's unique-username rule (code 6), as on the HTTP routes.
 */
export async function syncConnectingUser(db: Kysely<Database>, userId: string, rawDetails: Record<string, unknown>): Promise<UserRow> {
  const details = splitDetails(rawDetails);
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`connect:${userId}`}, 0))`.execute(trx);
    const [row] = await findUsersByIds(trx, [userId]);
    // checkUserToken refused deactivated and deleted users already; the update refuses them too, should one have
    // been deactivated meanwhile.
    const set = row ? changesFor(row, details) : undefined;
    if (row && !set) return row;

    const name = (row ? set!.name : details.fields.name) as string | undefined;
    const uniqueNames = name === undefined ? 'no' : (await getAppSettings(trx)).enforce_unique_usernames;
    if (uniqueNames !== 'no') await lockUsernames(trx, [name]);
    let written: UserRow;
    if (row) {
      written = await updateUserPartial(trx, { id: userId, set: set! }, { userOnly: true });
    } else {
      const request = { ...details.fields, id: userId, custom: details.custom as JsonObject } as UserRequest;
      [written] = (await upsertUsers(trx, [request])) as [UserRow];
    }
    await checkUniqueUsernames(trx, uniqueNames, [written]);
    return written;
  });
}
