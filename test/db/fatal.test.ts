// The embedded database runs in this process: when it panics, its state is gone, and the server must stop at once
// with a clear line and a non-zero status (for its supervisor to restart it), never keep serving from it.
// backend-independent: the embedded engine's fatal errors, in a process of its own.
import { describe, expect, it } from 'vitest';
import { isFatalEngineError } from '../../src/db/database.js';
import { runBundle } from '../helpers/process.js';

describe('a fatal failure of the embedded database', () => {
  it('tells a PANIC or an abort from an ordinary error', () => {
    expect(isFatalEngineError(Object.assign(new Error('ERRORDATA_STACK_SIZE exceeded'), { severity: 'PANIC' }))).toBe(true);
    expect(isFatalEngineError(new WebAssembly.RuntimeError('unreachable'))).toBe(true);
    expect(isFatalEngineError(new Error('Aborted(). Build with -sASSERTIONS for more info.'))).toBe(true);
    expect(isFatalEngineError(Object.assign(new Error('stack depth limit exceeded'), { severity: 'ERROR', code: '54001' }))).toBe(false);
    expect(isFatalEngineError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });

  it('ends the process at once with status 70 and says why', async () => {
    const child = runBundle('pglite-panic', {});
    const status = await child.exited;
    expect(child.output()).not.toContain('still serving');
    expect(child.output()).toContain('the embedded database failed and cannot continue');
    expect(status).toBe(70);
  }, 60_000);
});
