// Stream's error codes and the error type every layer throws. The envelope is written by one error handler
// (envelope.ts), which prefixes the message with the operation: `<OperationId> failed with error: "<detail>"`.

export const ErrorCode = {
  Internal: -1,
  AccessKey: 2,
  Input: 4,
  Authentication: 5,
  DuplicateUsername: 6,
  RateLimit: 9,
  DoesNotExist: 16,
  NotAllowed: 17,
  PayloadTooBig: 22,
  RequestTimeout: 23,
  MaxHeaderSize: 24,
  TokenExpired: 40,
  TokenNotValidYet: 41,
  TokenUsedBeforeIssuedAt: 42,
  TokenSignatureInvalid: 43,
} as const;

const HTTP_STATUS: Record<number, number> = {
  [ErrorCode.Internal]: 500,
  [ErrorCode.AccessKey]: 401,
  [ErrorCode.Input]: 400,
  [ErrorCode.Authentication]: 401,
  [ErrorCode.DuplicateUsername]: 400,
  [ErrorCode.RateLimit]: 429,
  [ErrorCode.DoesNotExist]: 404,
  [ErrorCode.NotAllowed]: 403,
  [ErrorCode.PayloadTooBig]: 413,
  [ErrorCode.RequestTimeout]: 408,
  [ErrorCode.MaxHeaderSize]: 431,
  [ErrorCode.TokenExpired]: 401,
  [ErrorCode.TokenNotValidYet]: 401,
  [ErrorCode.TokenUsedBeforeIssuedAt]: 401,
  [ErrorCode.TokenSignatureInvalid]: 401,
};

export class StreamError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: number,
    /** The detail; the operation prefix is added when the response is written. */
    readonly detail: string,
    options: { statusCode?: number; exceptionFields?: Record<string, string>; retryAfterSeconds?: number } = {},
  ) {
    super(detail);
    this.statusCode = options.statusCode ?? HTTP_STATUS[code] ?? 500;
    this.exceptionFields = options.exceptionFields;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
  readonly exceptionFields: Record<string, string> | undefined;
  /** Sent as Retry-After: when the client may try again (a 503 of a conflict that retries did not resolve). */
  readonly retryAfterSeconds: number | undefined;
}

export const inputError = (detail: string) => new StreamError(ErrorCode.Input, detail);
export const notFound = (detail: string) => new StreamError(ErrorCode.DoesNotExist, detail);
export const notAllowed = (detail: string) => new StreamError(ErrorCode.NotAllowed, detail);

/**
 * A PostgreSQL data exception (SQLSTATE class 22: a NUL character, a lone surrogate, a date out of range...) or a size
 * limit (54000: e.g. a name too long for its btree index) means the request carried a value the database cannot hold
 * or compare: bad input, not a server failure. The statement failed, so its transaction rolled back and nothing was
 * written. The database's own message stays in the server log.
 */
export function databaseInputError(error: unknown, subject = 'a value in the request'): StreamError | undefined {
  const sqlState = (error as { code?: unknown } | null)?.code;
  if (typeof sqlState !== 'string' || !/^(22[0-9A-Z]{3}|54000)$/.test(sqlState)) return undefined;
  return inputError(sqlState === '54000' ? `${subject} is too long to be stored` : `${subject} can not be stored`);
}

/** SQLSTATEs of a database that is shutting down, restarting, refusing connections, or lost mid-statement. */
const UNAVAILABLE_STATES = /^(08\d{3}|57P0[1-4])$/;
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/**
 * The database could not answer: it is down or restarting (connection errors), or a statement ran past its
 * statement_timeout (57014). A 503 the client may retry; nothing was committed.
 */
export function databaseUnavailableError(error: unknown): StreamError | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // A deadlock or serialization failure that the service's retries did not resolve (src/db/locks.ts).
  if (code === '40P01' || code === '40001') {
    return new StreamError(ErrorCode.Internal, 'the request conflicted with concurrent changes of the same users, try again', {
      statusCode: 503,
      retryAfterSeconds: 1,
    });
  }
  if (code === '57014') return new StreamError(ErrorCode.Internal, 'the database did not answer in time, try again', { statusCode: 503 });
  // pg-pool's words for a query that waited its whole POOL_WAIT_MS for a free connection: every connection was busy
  // (src/db/database.ts; a connection that could not be opened in time fails as pg's "timeout expired"); or the
  // database server's connection limit (53300) stayed reached for that whole wait.
  if (message === 'timeout exceeded when trying to connect' || code === '53300') {
    return new StreamError(ErrorCode.Internal, 'the server is busy, try again', { statusCode: 503, retryAfterSeconds: 1 });
  }
  const lost =
    (typeof code === 'string' && (UNAVAILABLE_STATES.test(code) || UNAVAILABLE_CODES.has(code))) ||
    (typeof message === 'string' && /Connection terminated|connection is closed|Client was closed|^timeout expired$/i.test(message));
  return lost ? new StreamError(ErrorCode.Internal, 'the database is unavailable, try again', { statusCode: 503 }) : undefined;
}
