// The live WebSocket connections of this process: the connect handshake, keep-alive, presence rows and shutdown.
//
// A connection's life:
//   1. The upgrade is always accepted (on `/connect`), so that a refusal can be told to the client: stream-chat reports
//      a connection as rejected only when its first frame is `{error}` (then the socket closes with 1000); an HTTP
//      status on the upgrade, or any other close, is a network failure that it retries for ~15 s.
//   2. Credentials (handshake.ts), then the user's stored state (checkUserToken: deactivated, deleted → 5; revoked
//      token → 40), then the user is created or updated from `user_details` (user-sync.ts).
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
import { sql, type Kysely } from 'kysely';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppCredentials } from '../auth/plugin.js';
import { ActivityRecorder, checkUserToken } from '../auth/user-state.js';
import type { Database } from '../db/schema.js';
import { ErrorCode, StreamError } from '../http/errors.js';
import { findUsersByIds } from '../users/store.js';
import type { UserV1 } from '../v1/representation.js';
import { anonymousUser, errorFrame, healthCheck, ownUser } from './frames.js';
import { authenticateConnect, isConnectPath } from './handshake.js';
import { syncConnectingUser } from './user-sync.js';

export interface ConnectHubOptions {
  db: Kysely<Database>;
  credentials: () => AppCredentials;
  /** Shared with the HTTP auth path when given, so that last_active is written at most once a minute per user. */
  activity?: ActivityRecorder;
  logger?: FastifyBaseLogger;
  /** Interval of the keep-alive pass (WebSocket ping, seen_at refresh, state re-check). Default 30 s; well under the 90 s online window. */
  heartbeatMs?: number;
  /** How long shutdown waits for clients to answer the close before it drops their sockets. Default 1 s. */
  closeGraceMs?: number;
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
  /** Set once the first health.check has been sent. */
  ready = false;
  /** The user of a user connection whose user_connections row exists. */
  stored: { userId: string; issuedAt: number | undefined } | undefined;
  /** Answered the last WebSocket ping (or sent anything) since the previous heartbeat. */
  alive = true;
  closed = false;
  readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  constructor(readonly ws: WebSocket) {
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  onClosed() {
    this.closed = true;
    this.markClosed();
  }

  send(frame: string) {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(frame);
  }

  close(code: number, reason: string) {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }
}

function isClientPing(message: unknown): boolean {
  const isHealthCheck = (item: unknown) =>
    typeof item === 'object' && item !== null && (item as { type?: unknown }).type === 'health.check';
  return Array.isArray(message) ? message.some(isHealthCheck) : isHealthCheck(message);
}

/** A PostgreSQL data exception (class 22) or size limit (54000) means a value the client sent can't be stored. */
function asStreamError(error: unknown): StreamError | undefined {
  if (error instanceof StreamError) return error;
  const sqlState = (error as { code?: unknown } | null)?.code;
  if (typeof sqlState === 'string' && /^(22[0-9A-Z]{3}|54000)$/.test(sqlState)) {
    return new StreamError(ErrorCode.Input, 'a value in user_details can not be stored');
  }
  return undefined;
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

  constructor(private readonly options: ConnectHubOptions) {
    this.activity = options.activity ?? new ActivityRecorder(options.db);
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
  }

  /** Number of open connections (anonymous ones included). */
  get size(): number {
    return this.connections.size;
  }

  /** Serves `/connect` upgrades of an HTTP server (the app's own, or the extra WS_PORT listener). */
  attach(server: Server) {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(request, socket, head));
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => socket.destroy());
    if (!isConnectPath(request.url)) return refuseUpgrade(socket, 404, 'Not Found');
    if (this.closing) return refuseUpgrade(socket, 503, 'Service Unavailable');
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request.url ?? '/connect'));
  }

  private accept(ws: WebSocket, url: string) {
    const connection = new Connection(ws);
    this.connections.add(connection);
    ws.on('close', () => {
      this.connections.delete(connection);
      connection.onClosed();
    });
    ws.on('error', (error) => this.options.logger?.debug({ err: error, connectionId: connection.id }, 'websocket error'));
    ws.on('pong', () => {
      connection.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      connection.alive = true;
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
      const rejection = asStreamError(error);
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
    if (connection.stored) {
      await sql`DELETE FROM user_connections WHERE id = ${connection.id}`.execute(this.options.db);
    }
  }

  /** The handshake; returns `me`, or undefined when the socket closed meanwhile. */
  private async open(connection: Connection, url: string): Promise<UserV1 | undefined> {
    const { db } = this.options;
    if (this.closing) return undefined; // accepted while shutting down: closed with 1001 already
    const caller = await authenticateConnect(url, this.options.credentials());
    if (caller.kind === 'anonymous') return anonymousUser();

    await checkUserToken(db, caller.userId, caller.issuedAt);
    await syncConnectingUser(db, caller.userId, caller.details);
    if (connection.closed) return undefined;
    await sql`INSERT INTO user_connections (id, user_id) VALUES (${connection.id}, ${caller.userId})`.execute(db);
    connection.stored = { userId: caller.userId, issuedAt: caller.issuedAt };
    if (connection.closed) return undefined;
    try {
      await this.activity.record(caller.userId);
    } catch (error) {
      this.options.logger?.warn({ err: error, userId: caller.userId }, 'recording activity failed');
    }
    // Read after the row and the activity are written, so that `me` has last_active (and online, blocked ids).
    const [row] = await findUsersByIds(db, [caller.userId]);
    if (!row) throw new StreamError(ErrorCode.Authentication, `user "${caller.userId}" was deleted`);
    return ownUser(row);
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
        if (connection.stored) stored.push(connection);
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

  /** Refreshes seen_at of live connections, and ends those whose user or token is no longer valid. */
  private async refresh(connections: Connection[]) {
    const { db } = this.options;
    const rows = JSON.stringify(
      connections.map((c) => ({ id: c.id, user_id: c.stored!.userId, iat: c.stored!.issuedAt ?? null })),
    );
    await sql`
      UPDATE user_connections SET seen_at = now()
      WHERE id IN (SELECT c.id FROM jsonb_to_recordset(${rows}::jsonb) AS c(id uuid))`.execute(db);
    const ended = await sql<{ id: string; reason: string }>`
      SELECT c.id, CASE
          WHEN u.id IS NULL OR u.deleted_at IS NOT NULL THEN 'user was deleted'
          WHEN u.deactivated_at IS NOT NULL THEN 'user was deactivated'
          ELSE 'token was revoked' END AS reason
      FROM jsonb_to_recordset(${rows}::jsonb) AS c(id uuid, user_id text, iat double precision)
      LEFT JOIN users u ON u.id = c.user_id
      LEFT JOIN app_settings a ON a.id = 1
      WHERE u.id IS NULL OR u.deleted_at IS NOT NULL OR u.deactivated_at IS NOT NULL
         OR (u.revoke_tokens_issued_before IS NOT NULL
             AND (c.iat IS NULL OR to_timestamp(trunc(c.iat)) < u.revoke_tokens_issued_before))
         OR (a.revoke_tokens_issued_before IS NOT NULL
             AND (c.iat IS NULL OR to_timestamp(trunc(c.iat)) < a.revoke_tokens_issued_before))`.execute(db);
    const byId = new Map(connections.map((c) => [c.id, c]));
    for (const { id, reason } of ended.rows) byId.get(id)?.close(CLOSE_POLICY, reason);
    // A live connection is activity: last_active keeps moving (once a minute at most) and a connection that stays
    // open into a new month counts the user in that month too.
    const endedIds = new Set(ended.rows.map((row) => row.id));
    const users = new Set(connections.filter((c) => !endedIds.has(c.id)).map((c) => c.stored!.userId));
    for (const userId of users) await this.activity.record(userId);
  }

  /** Closes every connection (1001: clients reconnect, to another instance or after the restart) and waits for their rows to be deleted. */
  async close() {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const connection of this.connections) connection.close(CLOSE_GOING_AWAY, 'server shutting down');
    const all = () => Promise.all([...this.lifetimes]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeGraceMs ?? 1_000);
    });
    await Promise.race([all(), grace]);
    clearTimeout(timer);
    for (const connection of this.connections) connection.ws.terminate();
    await all();
    this.wss.close();
  }
}

function refuseUpgrade(socket: Duplex, status: number, text: string) {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}
