// The live WebSocket connections of this process: the connect handshake, keep-alive, presence rows and shutdown.
//
// A connection's life:
//   1. Unless over the limits of connections (in all, per address; anonymous ones per address and their share of the
//      total), the upgrade is accepted (on `/connect`), so that a refusal can be told to the client: stream-chat reports
//      a connection as rejected only when its first frame is `{error}` (then the socket closes with 1000); an HTTP
//      status on the upgrade, or any other close, is a network failure that it retries for ~15 s.
//   2. Credentials (handshake.ts, through auth/core.ts), then the user's connection limit and its `Connect` rate
//      budget (code 9), then the user's stored state (deactivated, deleted → 5; revoked token → 40), then the user is
//      created or updated from `user_details` (service.ts admitUser).
//   3. A `user_connections` row is written (the user is online while a row of theirs is fresh), activity is recorded,
//      and the first frame, a health.check with `connection_id` and `me`, is sent.
//   4. Every client ping (`[{"type":"health.check",…}]`) is answered with a health.check. Every HEARTBEAT interval the
//      server pings each socket at the WebSocket level (ending those that did not answer the previous ping), refreshes
//      `seen_at` of the live ones in one statement, and ends connections whose user has since been deactivated or
//      deleted or whose token has been revoked (closed with 1008: stream-chat reconnects, and is then rejected with
//      the reason, or, for a revoked token with a token provider, reconnects with a new token).
//   5. On close the row is deleted. A process that dies leaves rows that age out (90 s, see USER_COLUMNS).
// Anonymous connections go through 1, 3 (without the row and the activity) and 4 only: nothing is written.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { ActivityRecorder } from '../activity/service.js';
import { DEFAULT_CONNECT_LIMITS, type ConnectLimits } from '../config.js';
import type { ServiceContext } from '../context.js';
import { MemoryCounters } from '../rate-limits/counters.js';
import { addressKey, clientAddressOf, trustFunction, type TrustProxy } from '../lib/network.js';
import { ErrorCode, StreamError, databaseInputError } from '../http/errors.js';
import type { UserV1 } from '../users/representation.js';
import { anonymousUser, errorFrame, healthCheck, ownUser } from './frames.js';
import { authenticateConnect, isAnonymousConnect, isConnectPath } from './handshake.js';
import { CONNECT_OPERATION, platformOf } from '../rate-limits/service.js';
import { addPresence, admitUser, connectedUser, refreshConnections, removePresence } from './service.js';

export interface ConnectHubOptions {
  ctx: ServiceContext;
  /** Shared with the HTTP auth path when given, so that last_active is written at most once a minute per user. */
  activity?: ActivityRecorder;
  logger?: FastifyBaseLogger;
  /** Interval of the keep-alive pass (WebSocket ping, seen_at refresh, state re-check). Default 30 s; well under the 90 s online window. */
  heartbeatMs?: number;
  /** How long shutdown waits for clients to answer the close before it drops their sockets. Default 1 s. */
  closeGraceMs?: number;
  /** Bounds on connections and on what one connection may send or leave unread. */
  limits?: Partial<ConnectLimits>;
  /** Which proxies may name the client in X-Forwarded-For (as the HTTP routes take it). */
  trustProxy?: TrustProxy | boolean;
}

/** Close codes. 1000 ends a rejected connection (stream-chat: "rejected, don't retry"); the others make it reconnect. */
const CLOSE_REJECTED = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY = 1008;
const CLOSE_INTERNAL = 1011;

/** Clients send only small pings; anything larger is not a client of this protocol. */
const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

class Connection {
  readonly id: string = randomUUID();
  readonly startedAt = process.hrtime.bigint();
  /** Frames received in the current second, for the inbound rate limit. */
  private second = 0;
  private framesThisSecond = 0;
  /** Set once the first health.check has been sent. */
  ready = false;
  /** The user and token of a user connection (counted against the user's connection limit). */
  stored: { userId: string; issuedAt: number | undefined } | undefined;
  /** Its user_connections row exists. */
  present = false;
  /** Answered the last WebSocket ping (or sent anything) since the previous heartbeat. */
  alive = true;
  closed = false;
  readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  constructor(
    readonly ws: WebSocket,
    readonly address: string,
    private readonly limits: ConnectLimits,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  /** Counts a frame received; false when the socket is over its frames-per-second limit. */
  countFrame(): boolean {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.framesThisSecond = 0;
    }
    this.framesThisSecond += 1;
    return this.framesThisSecond <= this.limits.messagesPerSecond;
  }

  onClosed() {
    this.closed = true;
    this.markClosed();
  }

  send(frame: string) {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(frame);
    // A client that does not read leaves what it is sent queued here: past the cap, the socket is dropped rather than
    // let it hold memory without bound (a close frame would only queue behind the rest).
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) this.ws.terminate();
  }

  close(code: number, reason: string) {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  /** Closes a misbehaving client, and drops it a second later if it does not answer the close (it may not read). */
  eject(code: number, reason: string) {
    this.close(code, reason);
    setTimeout(() => this.ws.terminate(), 1_000).unref();
  }
}


function isClientPing(message: unknown): boolean {
  const isHealthCheck = (item: unknown) =>
    typeof item === 'object' && item !== null && (item as { type?: unknown }).type === 'health.check';
  return Array.isArray(message) ? message.some(isHealthCheck) : isHealthCheck(message);
}

function rejectionOf(error: unknown): StreamError | undefined {
  return error instanceof StreamError ? error : databaseInputError(error, 'a value in user_details');
}

/** The close reason of a connection whose token went bad (a close reason holds at most 123 bytes: no user id in it). */
function closeReason(refusal: StreamError): string {
  if (refusal.code !== ErrorCode.Authentication) return 'token was revoked';
  return refusal.detail.endsWith('was deleted') ? 'user was deleted' : 'user was deactivated';
}

export class ConnectHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES, clientTracking: false });
  private readonly connections = new Set<Connection>();
  /** Each connection's whole life, handshake to row deletion; shutdown waits for them. */
  private readonly lifetimes = new Set<Promise<void>>();
  private readonly activity: ActivityRecorder;
  private readonly heartbeatMs: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private ticking = false;
  private closing = false;

  private readonly limits: ConnectLimits;
  private readonly trust: ReturnType<typeof trustFunction>;
  /** Open connections per client address and per user; anonymous ones per address and in all. */
  private readonly perAddress = new Map<string, number>();
  private readonly anonymousPerAddress = new Map<string, number>();
  private anonymousTotal = 0;
  private readonly perUser = new Map<string, number>();
  /** Connect attempts per client address in the current minute. */
  private readonly attempts = new MemoryCounters();

  constructor(private readonly options: ConnectHubOptions) {
    this.activity = options.activity ?? new ActivityRecorder(options.ctx.db);
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.limits = { ...DEFAULT_CONNECT_LIMITS, ...options.limits };
    this.trust = trustFunction(options.trustProxy);
  }

  /** Number of open connections (anonymous ones included). */
  get size(): number {
    return this.connections.size;
  }

  /** Serves `/connect` upgrades of an HTTP server (the app's own, or the extra WS_PORT listener). */
  attach(server: Server) {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(request, socket, head));
  }

  /**
   * Takes an upgrade, or refuses it before any WebSocket work when the server or the client's address is over its
   * limits: 503 when the server holds its total, 429 for an address over its connections or its attempts a minute.
   * stream-chat treats such an answer as a network failure and retries with backoff, which is what these want.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => socket.destroy());
    if (!isConnectPath(request.url)) return refuseUpgrade(socket, 404, 'Not Found');
    if (this.closing || this.connections.size >= this.limits.total) return refuseUpgrade(socket, 503, 'Service Unavailable');
    // Counted by addressKey: an IPv6 client by its /64.
    const address = addressKey(clientAddressOf(request, this.trust));
    const [attempts] = this.attempts.incrementNow([address], Math.floor(Date.now() / 60_000));
    if (attempts! > this.limits.attemptsPerMinute || (this.perAddress.get(address) ?? 0) >= this.limits.perAddress) {
      return refuseUpgrade(socket, 429, 'Too Many Requests');
    }
    // Anonymous connections (they authenticate nothing, and the query string says so before any work) have their own
    // cap per address and a share of the total, so that they can never take the slots of users.
    const anonymous = isAnonymousConnect(request.url);
    if (anonymous) {
      if (this.anonymousTotal >= Math.floor(this.limits.total * this.limits.anonymousShare)) return refuseUpgrade(socket, 503, 'Service Unavailable');
      if ((this.anonymousPerAddress.get(address) ?? 0) >= this.limits.anonymousPerAddress) return refuseUpgrade(socket, 429, 'Too Many Requests');
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, address, request.url ?? '/connect', anonymous));
  }

  private accept(ws: WebSocket, address: string, url: string, anonymous: boolean) {
    const connection = new Connection(ws, address, this.limits);
    this.connections.add(connection);
    adjust(this.perAddress, address, 1);
    if (anonymous) {
      adjust(this.anonymousPerAddress, address, 1);
      this.anonymousTotal += 1;
    }
    ws.on('close', () => {
      this.connections.delete(connection);
      adjust(this.perAddress, address, -1);
      if (anonymous) {
        adjust(this.anonymousPerAddress, address, -1);
        this.anonymousTotal -= 1;
      }
      if (connection.stored) adjust(this.perUser, connection.stored.userId, -1);
      connection.onClosed();
    });
    ws.on('error', (error) => this.options.logger?.debug({ err: error, connectionId: connection.id }, 'websocket error'));
    ws.on('pong', () => {
      connection.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      connection.alive = true;
      if (!connection.countFrame()) return connection.eject(CLOSE_POLICY, 'too many messages');
      if (!connection.ready || isBinary) return;
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (isClientPing(message)) connection.send(healthCheck(connection.id));
    });
    if (this.closing) connection.close(CLOSE_GOING_AWAY, 'server shutting down');

    const lifetime = this.live(connection, url).catch((error) => {
      this.options.logger?.error({ err: error, connectionId: connection.id }, 'websocket connection failed');
    });
    this.lifetimes.add(lifetime);
    void lifetime.finally(() => this.lifetimes.delete(lifetime));
  }

  private async live(connection: Connection, url: string) {
    try {
      const me = await this.open(connection, url);
      if (me && !connection.closed) {
        connection.send(healthCheck(connection.id, me));
        connection.ready = true;
        this.startHeartbeat();
      }
    } catch (error) {
      const rejection = rejectionOf(error);
      if (rejection) {
        connection.send(errorFrame(rejection, connection.startedAt));
        connection.close(CLOSE_REJECTED, 'connection rejected');
      } else {
        // A failure of this server (its database...): close as a network failure, so that the client retries.
        this.options.logger?.error({ err: error, connectionId: connection.id }, 'websocket connect failed');
        connection.close(CLOSE_INTERNAL, 'internal error');
      }
    }
    await connection.closedPromise;
    if (connection.present) await removePresence(this.options.ctx, connection.id);
  }

  /** The handshake; returns `me`, or undefined when the socket closed meanwhile. */
  private async open(connection: Connection, url: string): Promise<UserV1 | undefined> {
    const { ctx } = this.options;
    if (this.closing) return undefined; // accepted while shutting down: closed with 1001 already
    const caller = await authenticateConnect(url, ctx.credentials(), ctx.limits);
    if (caller.kind === 'anonymous') return anonymousUser();

    const token = { userId: caller.userId, issuedAt: caller.issuedAt };
    if ((this.perUser.get(caller.userId) ?? 0) >= this.limits.perUser) {
      throw new StreamError(ErrorCode.RateLimit, `user "${caller.userId}" has too many connections: the limit is ${this.limits.perUser}`);
    }
    // Counted from here, before the awaits, so that simultaneous connects of one user cannot all pass the check.
    connection.stored = token;
    adjust(this.perUser, caller.userId, 1);
    // A connect writes the user and may send user.updated: it counts against the user's budget (and its platform's)
    // of the operation Connect, as an HTTP call counts against its operation's.
    const decision = ctx.rateLimits.enabled ? await ctx.rateLimits.take({ kind: 'user', ...token }, platformOf(caller.client), CONNECT_OPERATION) : undefined;
    if (decision && !decision.allowed) {
      throw new StreamError(ErrorCode.RateLimit, `user "${caller.userId}" connects too often: the limit is ${decision.limit} a minute, try again in ${decision.retryAfterSeconds} s`);
    }
    await admitUser(ctx, token, caller.details);
    if (connection.closed) return undefined;
    await addPresence(ctx, connection.id, caller.userId);
    connection.present = true;
    if (connection.closed) return undefined;
    try {
      await this.activity.record(caller.userId);
    } catch (error) {
      this.options.logger?.warn({ err: error, userId: caller.userId }, 'recording activity failed');
    }
    // Read after the row and the activity are written, so that `me` has last_active (and online, blocked ids).
    return ownUser(await connectedUser(ctx, caller.userId));
  }

  private startHeartbeat() {
    if (this.heartbeat || this.closing) return;
    this.heartbeat = setInterval(() => void this.tick(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** One keep-alive pass; see the header. */
  async tick() {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const stored: Connection[] = [];
      for (const connection of this.connections) {
        if (!connection.ready || connection.ws.readyState !== connection.ws.OPEN) continue;
        if (!connection.alive) {
          connection.ws.terminate();
          continue;
        }
        connection.alive = false;
        connection.ws.ping();
        if (connection.present) stored.push(connection);
      }
      if (this.connections.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
      if (stored.length > 0) await this.refresh(stored);
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'websocket keep-alive pass failed');
    } finally {
      this.ticking = false;
    }
  }

  /** Refreshes the presence of live connections, and ends those whose user or token is no longer valid. */
  private async refresh(connections: Connection[]) {
    const ended = await refreshConnections(
      this.options.ctx,
      this.activity,
      connections.map((c) => ({ id: c.id, token: c.stored! })),
    );
    for (const connection of connections) {
      const refusal = ended.get(connection.id);
      if (refusal) connection.close(CLOSE_POLICY, closeReason(refusal));
    }
  }

  /** Closes every connection with `code`, waits up to the close grace for their lives to end, then cuts off the rest. */
  private async closeConnections(code: number, reason: string) {
    for (const connection of this.connections) connection.close(code, reason);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeGraceMs ?? 1_000);
    });
    await Promise.race([Promise.all([...this.lifetimes]), grace]);
    clearTimeout(timer);
    for (const connection of this.connections) connection.ws.terminate();
  }

  /**
   * Closes every connection with 1000 (a normal close: stream-chat does not reconnect, so no client writes its user
   * back) and waits, up to the close grace, for their rows to be deleted. The hub keeps serving (clearing the data).
   */
  async closeAll(reason: string) {
    await this.closeConnections(CLOSE_REJECTED, reason);
  }

  /** Closes every connection (1001: clients reconnect, to another instance or after the restart) and waits for their rows to be deleted. */
  async close() {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.closeConnections(CLOSE_GOING_AWAY, 'server shutting down');
    await Promise.all([...this.lifetimes]);
    this.wss.close();
  }
}

function adjust(counts: Map<string, number>, key: string, by: number) {
  const count = (counts.get(key) ?? 0) + by;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}

function refuseUpgrade(socket: Duplex, status: number, text: string) {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}
