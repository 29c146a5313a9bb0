// Stream's wire conventions, in one place for every route: the `duration` field, the rate-limit headers, JSON
// parsing quirks, and the error envelope {code, message, StatusCode, duration, more_info, details} for every
// failure (unknown route, malformed or oversized body, schema failure, thrown StreamError, internal error).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, StreamError, databaseInputError, databaseUnavailableError } from './errors.js';
import { parseRequestJson, type InputLimits } from '../limits.js';

const MORE_INFO = 'https://getstream.io/chat/docs/api_errors_response';

declare module 'fastify' {
  interface FastifyRequest {
    startedAt: bigint;
  }
}

export function formatDuration(startedAt: bigint): string {
  const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
  return `${ms.toFixed(2)}ms`;
}

function operationOf(request: FastifyRequest): string {
  // Stream's OperationId names the operation in messages and rate limits: the route schema's operationId, unless
  // the route says otherwise (v1 paths share Stream's names with their v2 twins, while OpenAPI needs unique ids).
  const configured = request.routeOptions.config?.operation;
  if (configured) return configured;
  const schema = request.routeOptions.schema as { operationId?: string } | undefined;
  return schema?.operationId ?? 'Request';
}

export interface ErrorEnvelope {
  code: number;
  message: string;
  exception_fields?: Record<string, string>;
  StatusCode: number;
  duration: string;
  more_info: string;
  details: number[];
  unrecoverable?: boolean;
}

/** Any error a request raised as the StreamError it is answered with (the dashboard renders the same message). */
export function toStreamError(error: FastifyError | StreamError | Error): StreamError {
  if (error instanceof StreamError) return error;
  const fe = error as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const where = `${fe.validationContext ?? 'request'}${first?.instancePath ?? ''}`.replace(/\//g, '.');
    const detail = first ? `${where} ${first.message ?? 'is invalid'}` : fe.message;
    return new StreamError(ErrorCode.Input, detail);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new StreamError(ErrorCode.PayloadTooBig, 'request body is too large');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new StreamError(ErrorCode.Input, 'invalid JSON body');
  }
  const rejected = databaseInputError(error) ?? databaseUnavailableError(error);
  if (rejected) return rejected;
  if (error instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message))) {
    return new StreamError(ErrorCode.Input, 'invalid JSON body');
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new StreamError(ErrorCode.Input, fe.message, { statusCode: fe.statusCode });
  }
  return new StreamError(ErrorCode.Internal, 'internal server error');
}

/** Stream's error envelope of `error`, for an operation's request: `<operation> failed with error: "<detail>"`. */
export function envelopeOf(operation: string, error: StreamError, startedAt: bigint): ErrorEnvelope {
  const envelope: ErrorEnvelope = {
    code: error.code,
    message: `${operation} failed with error: "${error.detail}"`,
    StatusCode: error.statusCode,
    duration: formatDuration(startedAt),
    more_info: MORE_INFO,
    details: [],
  };
  if (error.exceptionFields) envelope.exception_fields = error.exceptionFields;
  return envelope;
}

function errorEnvelope(request: FastifyRequest, error: StreamError): ErrorEnvelope {
  return envelopeOf(operationOf(request), error, request.startedAt ?? process.hrtime.bigint());
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: StreamError) {
  if (error.retryAfterSeconds !== undefined) reply.header('Retry-After', String(error.retryAfterSeconds));
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(errorEnvelope(request, error));
}

/**
 * Errors Node's HTTP server raises before Fastify sees a request (headers over the limit, a malformed request line, a
 * request not received in time) still get Stream's envelope.
 */
export function answerClientError(parseError: Error & { code?: string }, socket: import('node:net').Socket) {
  if (!socket.writable) return;
  const error =
    parseError.code === 'HPE_HEADER_OVERFLOW'
      ? new StreamError(ErrorCode.MaxHeaderSize, 'request headers are too large')
      : parseError.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new StreamError(ErrorCode.RequestTimeout, 'the request was not received in time')
        : new StreamError(ErrorCode.Input, 'malformed HTTP request', { statusCode: 400 });
  const body = JSON.stringify({ ...envelopeOf('Request', error, process.hrtime.bigint()), duration: '0.00ms' });
  const reason = { 431: 'Request Header Fields Too Large', 408: 'Request Timeout' }[error.statusCode] ?? 'Bad Request';
  socket.end(
    `HTTP/1.1 ${error.statusCode} ${reason}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function registerEnvelope(app: FastifyInstance, limits: InputLimits) {
  app.decorateRequest('startedAt', 0n);
  app.addHook('onRequest', async (request) => {
    request.startedAt = process.hrtime.bigint();
  });

  // A POST or PATCH without a body is an empty object (Fastify would otherwise fail even an all-optional schema).
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && (request.method === 'POST' || request.method === 'PATCH' || request.method === 'PUT')) {
      request.body = {};
    }
  });

  // Every successful Stream response carries `duration`: on a copy, since a handler may answer with an object it keeps
  // (the API reference's document, served to every caller).
  app.addHook('preSerialization', async (request, reply, payload) => {
    if (payload && typeof payload === 'object' && !Array.isArray(payload) && reply.statusCode < 400) {
      return { ...(payload as Record<string, unknown>), duration: formatDuration(request.startedAt) };
    }
    return payload;
  });

  /** A JSON body parser that tolerates an empty body (the SDK sends Content-Type: application/json on GET). */
  const parseJsonBody = (_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => {
    if (body.trim() === '') return done(null, undefined);
    try {
      done(null, parseRequestJson(body, limits, 'the request body'));
    } catch (error) {
      done(error as Error);
    }
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  // Anything else (text/plain, no content type) is read as JSON too, as Stream does not insist on the header.
  app.addContentTypeParser('*', { parseAs: 'string' }, parseJsonBody);

  app.setErrorHandler((error: FastifyError | StreamError, request, reply) => {
    const streamError = toStreamError(error);
    if (streamError.statusCode >= 500) request.log.error({ err: error }, streamError.statusCode === 503 ? 'database unavailable' : 'request failed');
    return sendError(request, reply, streamError);
  });

  app.setNotFoundHandler((request, reply) => {
    sendError(request, reply, new StreamError(ErrorCode.DoesNotExist, `${request.method} ${request.url.split('?')[0]} is not a known endpoint`));
  });
}
