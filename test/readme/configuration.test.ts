// Every environment variable the server reads is documented in the README (its Configuration table, or the Limits
// table it points to), so that an operator can find each one.
// backend-independent: reads the README.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.js';

describe('README configuration', () => {
  it('documents every variable src/config.ts reads', () => {
    const config = readFileSync(`${ROOT}/src/config.ts`, 'utf8');
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
    const variables = [...new Set([...config.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]!))];
    expect(variables.length).toBeGreaterThan(30);
    const documented = (name: string) => readme.includes(`\`${name}\``);
    expect(variables.filter((name) => !documented(name))).toEqual([]);
  });
});
