// What request logs may hold. Credentials travel in query strings (export links carry a `signature`, WebSocket
// connects an `authorization` JWT) and in headers: none of them may reach a log.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import pino from 'pino';

const SECRET_PARAMS = /^(signature|authorization|token|access_token|api_secret|secret|password|x-signature)$/i;
/** A JWT (three base64url parts, the first one JSON that starts `{"`): redacted wherever it appears. */
const JWT = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;

/** A URL with the values of credential parameters and anything token-like replaced. */
export function redactUrl(url: string): string {
  const question = url.indexOf('?');
  if (question === -1) return url.replace(JWT, '[redacted]');
  const params = url
    .slice(question + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals === -1 ? pair : pair.slice(0, equals);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // left as sent
      }
      if (equals !== -1 && SECRET_PARAMS.test(decoded)) return `${name}=[redacted]`;
      return pair.replace(JWT, '[redacted]');
    });
  return `${url.slice(0, question).replace(JWT, '[redacted]')}?${params.join('&')}`;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  ip?: string;
  socket?: { remoteAddress?: string };
}

/** pino serializers: a request is logged by method, redacted URL and address, never with its headers. */
export const logSerializers = {
  req(request: LoggedRequest) {
    return { method: request.method, url: redactUrl(request.url ?? ''), remoteAddress: request.ip ?? request.socket?.remoteAddress };
  },
};

/**
 * The process's logger, writing JSON lines to a file descriptor (1 or 2) synchronously. pino's default asynchronous
 * destination flushes on exit with a loop that retries a broken pipe forever: a server whose log reader went away
 * (its supervisor gone, `… | head`) while a line was being written never exited on SIGTERM. Written synchronously, a
 * broken pipe turns the logger off at the first line (pino's EPIPE handling) and exiting never waits on it.
 */
export function openProcessLogger(level: string, fd: 1 | 2): pino.Logger {
  return pino({ level, serializers: logSerializers }, pino.destination({ dest: fd, sync: true }));
}

/**
 * One line per request, written when it is answered: "request completed" (or "request errored") with the request's
 * method, redacted URL and address, its status and its time. Fastify's own controller writes a second line when the
 * request arrives; each line is serialized and written synchronously, and that one cost about 2.5 % of the server's
 * CPU on the busiest path (a 100-user upsert, in a profile at steady state) for nothing the answered line lacks.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
