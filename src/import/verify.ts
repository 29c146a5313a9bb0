// --verify: reads the source again and compares each user with the target, field by field, as the import keeps
// them. Both sides are read through the user file format's normalisation (format.ts), so that a v1 file, a v2 file and
// a live app are compared on the same terms. The target is read with server-side queryUsers, 100 ids at a time.
import { microsToRfc3339 } from '../db/timestamps.js';
import { sameJson, toJsonText } from '../lib/json.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { normaliseUser, parseUserLine, type ImportedUser } from './format.js';
import type { StreamServer } from './remote.js';
import { apiPages, fileLines } from './sources.js';

export interface VerifyReport {
  checked: number;
  /** Users present on both sides with at least one field that differs. */
  differing: number;
  missing: number;
  /** Source users that cannot be compared: deleted ones (queryUsers does not list them) and refused lines. */
  skipped: number;
  /** The first differences, as text. */
  differences: string[];
}

const SHOWN = 20;
const PAGE = 100;
const LOOKUPS_IN_FLIGHT = 4;

const COMPARED = ['name', 'image', 'role', 'teams', 'teams_role', 'language', 'invisible', 'privacy_settings', 'custom', 'created_at', 'updated_at',
  'last_active', 'deactivated_at', 'revoke_tokens_issued_before', 'blocked_user_ids'] as const;

function shown(value: unknown): string {
  if (typeof value === 'bigint') return microsToRfc3339(value);
  return value === null || value === undefined ? 'none' : toJsonText(value);
}

/** The fields in which the target differs from the source ("name: source "A", target "B"). */
export function userDifferences(source: ImportedUser, target: ImportedUser): string[] {
  const differences: string[] = [];
  for (const field of COMPARED) {
    let a: unknown = source[field];
    let b: unknown = target[field];
    // What the source leaves out, the target chose: created_at and updated_at (set at import), role (user), blocks.
    if ((field === 'created_at' || field === 'updated_at' || field === 'blocked_user_ids') && a === null) continue;
    if (field === 'role') a ??= 'user';
    if (field === 'blocked_user_ids') {
      a = [...(a as string[])].sort();
      b = [...((b as string[] | null) ?? [])].sort();
    }
    if (!sameJson(a, b)) differences.push(`${field}: source ${shown(a)}, target ${shown(b)}`);
  }
  return differences;
}

/** Groups of up to PAGE comparable source users, counting those that are not. */
async function* sourceUsers(file: string | undefined, source: StreamServer | undefined, report: VerifyReport): AsyncGenerator<ImportedUser[]> {
  if (source) {
    for await (const page of apiPages(source, undefined, PAGE)) {
      const users: ImportedUser[] = [];
      for (const user of page) {
        try {
          users.push(normaliseUser(user, DEFAULT_LIMITS));
        } catch {
          report.skipped++;
        }
      }
      yield users;
    }
    return;
  }
  let users: ImportedUser[] = [];
  for await (const { text } of fileLines(file!)) {
    const parsed = parseUserLine(text, DEFAULT_LIMITS);
    if (parsed.kind === 'empty') continue;
    if (parsed.kind === 'refused' || parsed.user.deleted_at !== null) {
      report.skipped++;
      continue;
    }
    users.push(parsed.user);
    if (users.length === PAGE) {
      yield users;
      users = [];
    }
  }
  if (users.length > 0) yield users;
}

export async function verifyImport(options: {
  file?: string;
  source?: StreamServer;
  target: StreamServer;
  onProgress?: (message: string) => void;
}): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, differing: 0, missing: 0, skipped: 0, differences: [] };
  const note = (text: string) => {
    if (report.differences.length < SHOWN) report.differences.push(text);
  };
  /** Looks a group up on the target; resolves to its comparison, applied to the report in source order. */
  const lookUp = async (users: ImportedUser[]) => {
    const found = users.length === 0 ? [] : await options.target.queryUsers({ ids: users.map((user) => user.id), limit: PAGE });
    const byId = new Map(found.map((user) => [user.id as string, user]));
    return () => {
      for (const user of users) {
        report.checked++;
        const stored = byId.get(user.id);
        if (!stored) {
          report.missing++;
          note(`user "${user.id}": missing on the target`);
          continue;
        }
        let differences: string[];
        try {
          differences = userDifferences(user, normaliseUser(stored, DEFAULT_LIMITS));
        } catch (error) {
          differences = [`the target's user can not be read: ${(error as Error).message}`];
        }
        if (differences.length > 0) {
          report.differing++;
          note(`user "${user.id}": ${differences.join('; ')}`);
        }
      }
      options.onProgress?.(`verified ${report.checked.toLocaleString('en-US')} users`);
    };
  };
  // The target's lookups run while the source's next pages are read: a few in flight, applied in order.
  const pending: Array<Promise<() => void>> = [];
  try {
    for await (const users of sourceUsers(options.file, options.source, report)) {
      pending.push(lookUp(users));
      if (pending.length >= LOOKUPS_IN_FLIGHT) (await pending.shift()!)();
    }
    while (pending.length > 0) (await pending.shift()!)();
  } finally {
    // A failed read leaves no lookup unobserved.
    await Promise.allSettled(pending);
  }
  return report;
}
