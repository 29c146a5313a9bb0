// The connecting user's `user_details` (stream-chat's flattened user, reference §7.1) under the client-side rules: a
// new user is created with role `user`; an existing one gets only the fields sent merged in, and only when they
// differ from what is stored (a reconnect that changes nothing writes nothing). Never role, teams or teams_role,
// never server-kept fields; connecting never removes anything, so a client that sends fewer fields keeps the custom
// data stored before. (users/service.ts syncConnectingUser applies what this computes.)
import type { UserRow } from '../db/schema.js';
import { inputError } from '../http/errors.js';
import { isPlainObject, sameJson } from '../lib/json.js';
import { PRIVACY_KEYS, RESERVED_FIELDS } from './validation.js';

/** Built-in fields a client may set about itself on connect. */
const CLIENT_FIELDS = ['name', 'image', 'language', 'invisible', 'privacy_settings'] as const;
type ClientField = (typeof CLIENT_FIELDS)[number];

/** Markers stream-chat adds to its own user object that are no user data. */
const CLIENT_MARKERS = new Set(['anon']);

export interface Details {
  fields: Partial<Record<ClientField, unknown>>;
  custom: Record<string, unknown>;
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
