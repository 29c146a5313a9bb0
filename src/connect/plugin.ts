// WebSocket connect (`GET /connect`, upgraded) on the app's own HTTP server, and optionally on an extra port.
//
// stream-chat derives its WebSocket URL from baseURL by replacing the first ":3030" with ":8800" (Stream's own local
// set-up). So a server on the default port 3030 also listens on WS_PORT (default 8800) for WebSocket connections;
// on any other port, clients connect to the main port and no extra listener is needed (see connectPortFor).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ActivityRecorder } from '../activity/service.js';
import type { ConnectLimits } from '../config.js';
import type { ServiceContext } from '../context.js';
import type { TrustProxy } from '../lib/network.js';
import { ConnectHub } from './hub.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's WebSocket connections (src/connect). */
    connectHub: ConnectHub;
  }
}

export interface ConnectDeps {
  ctx: ServiceContext;
  activity?: ActivityRecorder;
  limits?: Partial<ConnectLimits>;
  trustProxy?: TrustProxy | boolean;
  heartbeatMs?: number;
}

/** Serves `/connect` upgrades on the app's server; closing the app closes every connection (and deletes its row). */
export function registerConnect(app: FastifyInstance, deps: ConnectDeps): ConnectHub {
  const hub = new ConnectHub({ ...deps, logger: app.log });
  app.decorate('connectHub', hub);
  hub.attach(app.server);
  // preClose runs before the HTTP server stops: open WebSockets would keep it from ever closing.
  app.addHook('preClose', async () => {
    await hub.close();
  });
  return hub;
}

/** The HTTP port the server listens on, and WS_PORT. */
export interface PortConfig {
  port: number;
  wsPort: number;
}

/**
 * The extra port for WebSocket connections, if any: WS_PORT when the HTTP port is 3030 (the only case in which
 * stream-chat rewrites the port). WS_PORT=0 disables it: stream-chat always goes to :8800, so a port chosen by the
 * system would be one no client can find. (Tests that need an extra listener call listenConnect with port 0.)
 */
export function connectPortFor(config: PortConfig): number | undefined {
  if (config.port !== 3030 || config.wsPort === 0 || config.wsPort === config.port) return undefined;
  return config.wsPort;
}

export interface ConnectListener {
  server: Server;
  address: AddressInfo;
  close(): Promise<void>;
}

/** Headroom for the query string of a connect request: user_details of up to 5 KB, URL-encoded, travels in it. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Listens for WebSocket connections on an extra port, served by the app's hub. Plain HTTP requests there are
 * answered 426 (on /connect) or 404. The app's close also closes the connections made through this port; close()
 * stops the listener.
 */
export async function listenConnect(app: FastifyInstance, options: { port: number; host: string }): Promise<ConnectListener> {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (request, response) => {
    const upgrade = request.url?.split('?', 1)[0]?.replace(/\/+$/, '') === '/connect';
    const body = JSON.stringify({ error: upgrade ? 'this endpoint takes WebSocket connections only' : 'not found' });
    response.writeHead(upgrade ? 426 : 404, { 'content-type': 'application/json; charset=utf-8', ...(upgrade ? { upgrade: 'websocket' } : {}) });
    response.end(body);
  });
  app.connectHub.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closed: Promise<void> | undefined;
  return {
    server,
    address: server.address() as AddressInfo,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
