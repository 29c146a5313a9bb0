// The plan choice of a name $autocomplete from the word statistics (src/users/store/word-stats.ts), without a database.
// backend-independent: pure functions, no database.
import { describe, expect, it } from 'vitest';
import { soleNameAutocompleteWords } from '../../src/users/store/filter.js';
import { prefixShare, walkIsCheaper, type NameWordStats } from '../../src/users/store/word-stats.js';

const stats: NameWordStats = {
  words: new Map([
    ['alice', 0.1],
    ['alina', 0.02],
    ['smith', 0.1],
    ['bruno', 0.1],
  ]),
  users: 1_000_000,
};

describe('name word statistics', () => {
  it('a prefix shares the largest frequency among the common words it starts', () => {
    expect(prefixShare(stats, ['ali'])).toBeCloseTo(0.1);
    expect(prefixShare(stats, ['alin'])).toBeCloseTo(0.02);
    expect(prefixShare(stats, ['xio'])).toBe(0);
    expect(prefixShare(stats, ['ali', 'smi'])).toBeCloseTo(0.01);
    expect(prefixShare(stats, ['ali', 'xio'])).toBe(0);
  });

  it('walks the default order only when that reads fewer users than the matches', () => {
    expect(walkIsCheaper(stats, ['ali'], 30)).toBe(true);
    expect(walkIsCheaper(stats, ['ali'], 930)).toBe(true);
    // 1,000,000 / 0.1 users to walk for a page at offset 999,970, against 100,000 matches.
    expect(walkIsCheaper(stats, ['ali'], 1_000_000)).toBe(false);
    expect(walkIsCheaper(stats, ['xio'], 30)).toBe(false);
    expect(walkIsCheaper({ words: stats.words, users: 0 }, ['ali'], 30)).toBe(false);
    expect(walkIsCheaper({ words: new Map(), users: 1_000_000 }, ['ali'], 30)).toBe(false);
    // A small table: the match set is smaller than what the walk reads.
    expect(walkIsCheaper({ words: stats.words, users: 100 }, ['ali'], 30)).toBe(false);
    // The planner would price a walk for a deep page (930 / 2% of 100,000 users) near a full scan, and choose one.
    expect(walkIsCheaper({ words: stats.words, users: 100_000 }, ['ali'], 930)).toBe(false);
    expect(walkIsCheaper({ words: stats.words, users: 100_000 }, ['ali'], 30)).toBe(true);
  });

  it('applies to a filter that is a name $autocomplete and nothing else', () => {
    expect(soleNameAutocompleteWords({ name: { $autocomplete: 'Curiosity  Ro' } })).toEqual(['curiosity', 'ro']);
    expect(soleNameAutocompleteWords({ name: { $autocomplete: 'ali' }, role: 'user' })).toBeUndefined();
    expect(soleNameAutocompleteWords({ name: { $autocomplete: 'ali', $exists: true } })).toBeUndefined();
    expect(soleNameAutocompleteWords({ $and: [{ name: { $autocomplete: 'ali' } }] })).toBeUndefined();
    expect(soleNameAutocompleteWords({ name: 'ali' })).toBeUndefined();
    expect(soleNameAutocompleteWords({ username: { $autocomplete: 'ali' } })).toBeUndefined();
    // Invalid input is left for compileFilter to report.
    expect(soleNameAutocompleteWords({ name: { $autocomplete: ' - ' } })).toBeUndefined();
    expect(soleNameAutocompleteWords({ name: { $autocomplete: 42 } })).toBeUndefined();
    expect(soleNameAutocompleteWords(undefined)).toBeUndefined();
  });
});
