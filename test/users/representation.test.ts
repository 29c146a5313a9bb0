// The v1 representation helpers on their own: the v2 → v1 rewrite of stored users, exact JSON reading of stored
// task results, and the legacy delete options.
// backend-independent: the v1 representation as pure functions, no database.
import type { UserRow } from '../../src/db/schema.js';
import { describe, expect, it } from 'vitest';
import { legacyDeleteOptions } from '../../src/api/operations.js';
import { parseJsonExact, toJsonText } from '../../src/lib/json.js';
import { nanosToRfc3339, userRequestFromV1, userV1, userV1FromV2, userV2 } from '../../src/users/representation.js';

function row(overrides: Partial<UserRow> = {}): UserRow {
  return {
    id: 'u1',
    name: 'U',
    image: null,
    role: 'user',
    language: 'nl',
    teams: ['red'],
    teams_role: { red: 'admin' },
    invisible: false,
    privacy_settings: { typing_indicators: { enabled: false } },
    custom: { book: 'dune', nested: { created_at: 1 }, big: 12345678901234567890 },
    banned: false,
    shadow_banned: false,
    bypass_moderation: false,
    ban_expires: null,
    created_at: 1732636800123456n,
    updated_at: 1732636800999999n,
    last_active: null,
    deactivated_at: 1732636801000001n,
    deleted_at: null,
    deletion: null,
    deactivation: null,
    deletion_applied: null,
    revoke_tokens_issued_before: -1n,
    blocked_user_ids: ['u2'],
    online: false,
    ...overrides,
  };
}

describe('userV1FromV2', () => {
  it('turns a v2 user into exactly what userV1 makes of the row', () => {
    for (const r of [row(), row({ name: null, teams_role: null, privacy_settings: null, deactivated_at: null, revoke_tokens_issued_before: null, custom: {} })]) {
      expect(userV1FromV2(userV2(r) as unknown as Record<string, unknown>)).toEqual(userV1(r));
    }
  });

  it('survives the round trip through stored JSON text (nanosecond integers kept exact)', () => {
    const text = toJsonText({ users: [userV2(row())] });
    const parsed = parseJsonExact(text) as { users: Array<Record<string, unknown>> };
    const user = userV1FromV2(parsed.users[0]!);
    expect(user).toMatchObject({
      created_at: '2024-11-26T16:00:00.123456Z',
      updated_at: '2024-11-26T16:00:00.999999Z',
      deactivated_at: '2024-11-26T16:00:01.000001Z',
      revoke_tokens_issued_before: '1969-12-31T23:59:59.999999Z',
      book: 'dune',
      nested: { created_at: 1 },
    });
    expect(user).not.toHaveProperty('custom');
  });

  it('writes pre-1970 instants on the right microsecond', () => {
    expect(nanosToRfc3339(-1000n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(nanosToRfc3339(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(nanosToRfc3339(0n)).toBe('1970-01-01T00:00:00.000000Z');
  });
});

describe('parseJsonExact', () => {
  it('reads long integers as BigInts and leaves everything else as JSON.parse does', () => {
    const text = '{"a":1732636800123456789,"b":-1732636800123456789,"c":"1732636800123456789 \\" 99999999999999999","d":[1.5e300,-0.25,123456789012345,1e21],"e":null}';
    expect(parseJsonExact(text)).toEqual({
      a: 1732636800123456789n,
      b: -1732636800123456789n,
      c: '1732636800123456789 " 99999999999999999',
      d: [1.5e300, -0.25, 123456789012345, 1e21],
      e: null,
    });
  });

  it('reads PostgreSQL jsonb text (spaces after colons and commas)', () => {
    expect(parseJsonExact('{"users": [{"created_at": 1732636800123456000, "x": 1}]}')).toEqual({ users: [{ created_at: 1732636800123456000n, x: 1 }] });
  });
});

describe('userRequestFromV1', () => {
  it('reads built-ins as such, other keys as custom data, and ignores read-only fields', () => {
    expect(
      userRequestFromV1({ id: 'a', name: 'A', image: null, role: 'admin', teams: null, book: 'x', created_at: 'then', online: true, custom: { no: 1 } }),
    ).toEqual({ id: 'a', name: 'A', role: 'admin', teams: null, custom: { book: 'x' } });
  });
});

describe('legacyDeleteOptions', () => {
  it('maps the legacy query parameters onto DeleteUsers options', () => {
    expect(legacyDeleteOptions({})).toEqual({ user: 'soft' });
    expect(legacyDeleteOptions({ mark_messages_deleted: 'true' })).toEqual({ user: 'soft', messages: 'soft' });
    expect(legacyDeleteOptions({ delete_conversation_channels: 'true', mark_messages_deleted: 'false' })).toEqual({ user: 'soft', conversations: 'soft' });
    expect(legacyDeleteOptions({ hard_delete: 'true' })).toEqual({ user: 'hard', messages: 'hard', conversations: 'hard' });
    expect(legacyDeleteOptions({ hard_delete: 'false', mark_messages_deleted: 'true' })).toEqual({ user: 'soft', messages: 'soft' });
  });
});
