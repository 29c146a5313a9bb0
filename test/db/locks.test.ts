// The retry policy of src/db/locks.ts, without a database: a deadlock or serialization failure is retried a few
// times; past the last attempt the caller gets a 503 Stream error with a retry hint, never the raw database error.
import { describe, expect, it } from 'vitest';
import { isRetryableConflict, withConflictRetries } from '../../src/db/locks.js';
import { toStreamError } from '../../src/http/envelope.js';
import { StreamError } from '../../src/http/errors.js';

const conflict = (code: string) => Object.assign(new Error(`conflict ${code}`), { code });

describe('conflict retries', () => {
  it('retries deadlocks and serialization failures, and returns what a later attempt gives', async () => {
    for (const code of ['40P01', '40001']) {
      let attempts = 0;
      const result = await withConflictRetries(async () => {
        if (++attempts < 3) throw conflict(code);
        return 'done';
      });
      expect(result).toBe('done');
      expect(attempts).toBe(3);
    }
  });

  it('answers 503 with Retry-After after the last attempt, and leaves other errors alone', async () => {
    let attempts = 0;
    const error = await withConflictRetries(async () => {
      attempts++;
      throw conflict('40P01');
    }).catch((e: unknown) => e);
    expect(attempts).toBe(4);
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({ statusCode: 503, code: -1, retryAfterSeconds: 1 });

    let others = 0;
    await expect(
      withConflictRetries(async () => {
        others++;
        throw conflict('23505');
      }),
    ).rejects.toThrow('conflict 23505');
    expect(others).toBe(1);
    expect(isRetryableConflict(conflict('23505'))).toBe(false);
  });

  it('maps a conflict that reaches the error handler to the same 503', () => {
    expect(toStreamError(conflict('40001'))).toMatchObject({ statusCode: 503, code: -1, retryAfterSeconds: 1 });
  });
});
