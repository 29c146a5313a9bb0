// Bodies for the import endpoint (POST /operator/import): chunks of a user file, one user per line in the v2, v1 or
// export form, built from the world's ids, with hostile users, lines and encodings mixed in (gzip, bombs, CRLF, NUL).
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { customData, dateTime, teams, type Seeds } from './stream.js';
import { toJsonText } from '../../../src/lib/json.js';
import { hostileString, hostileValue, idLike } from './values.js';

interface Body {
  shape: string;
  contentType?: string;
  payload?: string | Buffer;
}

const TIMES = ['created_at', 'updated_at', 'last_active', 'deactivated_at', 'deleted_at', 'revoke_tokens_issued_before'];

function user(seeds: Seeds, hostile: boolean): fc.Arbitrary<Record<string, unknown>> {
  const text = hostile ? fc.oneof(fc.string(), hostileString()) : fc.string({ maxLength: 20 });
  const times = fc.record(Object.fromEntries(TIMES.map((field) => [field, dateTime(hostile)])), { requiredKeys: [] });
  const nanos = fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n });
  return fc
    .record(
      {
        id: idLike(seeds.userIds, hostile),
        name: text,
        image: text,
        role: hostile ? fc.oneof(fc.constantFrom<unknown>('user', 'admin', '', 42, null), hostileValue(seeds.userIds)) : fc.constantFrom('user', 'admin', 'guest'),
        teams: teams(seeds, hostile),
        teams_role: hostile ? hostileValue(seeds.userIds) : fc.constantFrom<unknown>({ red: 'admin' }, undefined),
        language: fc.constantFrom('', 'en', 'fr'),
        invisible: hostile ? hostileValue(seeds.userIds) : fc.boolean(),
        custom: customData(seeds, hostile),
        blocked_user_ids: hostile ? fc.oneof(fc.array(idLike(seeds.userIds)), hostileValue(seeds.userIds)) : fc.array(idLike(seeds.userIds, false), { maxLength: 3 }),
        nanos_created_at: nanos,
      },
      { requiredKeys: ['id'] },
    )
    .chain((fields) => times.map((dates): Record<string, unknown> => ({ ...fields, ...dates })))
    .map(({ nanos_created_at, ...fields }) => (nanos_created_at !== undefined && fields.created_at === undefined ? { ...fields, created_at: nanos_created_at } : fields));
}

/** One line: a user in one of the three forms, or something that is not one. */
function line(seeds: Seeds): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: user(seeds, false).map(toJsonText) },
    { weight: 3, arbitrary: user(seeds, true).map(toJsonText) },
    // v1: custom fields at the top level.
    { weight: 2, arbitrary: user(seeds, false).map(({ custom, ...fields }) => toJsonText({ ...(typeof custom === 'object' && custom !== null && !Array.isArray(custom) ? custom : {}), ...fields })) },
    { weight: 2, arbitrary: user(seeds, false).map((u) => toJsonText({ user: u, messages: [], reactions: [] })) },
    { weight: 1, arbitrary: hostileValue(seeds.userIds).map(toJsonText) },
    { weight: 1, arbitrary: fc.constantFrom('', '   ', '{', '[]', 'null', '"x"', '{"id": "a"} trailing', '{"id": "nul\\u0000"}', '{"id": "ok", "name": "\\ud800"}') },
    { weight: 1, arbitrary: fc.string() },
  );
}

export function userFileBody(seeds: Seeds): fc.Arbitrary<Body> {
  const lines = fc.array(line(seeds), { minLength: 1, maxLength: 12 });
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(lines, fc.constantFrom('\n', '\r\n')).map(([items, eol]): Body => ({ shape: 'user file lines', contentType: 'application/x-ndjson', payload: items.join(eol) + eol })) },
    { weight: 2, arbitrary: lines.map((items): Body => ({ shape: 'user file lines, gzip', contentType: 'application/x-ndjson', payload: gzipSync(items.join('\n')) })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Body>(
        { shape: 'gzip bomb', contentType: 'application/x-ndjson', payload: gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20)) },
        { shape: 'truncated gzip', contentType: 'application/x-ndjson', payload: gzipSync('{"id": "x"}\n').subarray(0, 12) },
        { shape: 'too many lines', contentType: 'application/x-ndjson', payload: '{"id": "fz-many"}\n'.repeat(10_001) },
      ),
    },
  );
}
