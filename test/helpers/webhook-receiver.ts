// A real HTTP receiver for webhook deliveries: it keeps every request (headers and the exact body bytes) and answers
// as the test says (a status, possibly after a delay, or never).
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { startTestServer, type StartOptions, type TestServer } from './server.js';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as received, byte for byte (what the signature covers). */
  body: string;
  at: number;
}

/** How to answer a request: a status (after `delayMs`, with `headers`), or `hang` to never answer. */
export type Answer = { status: number; delayMs?: number; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  url(path?: string): string;
  received: Received[];
  /** Waits until `check` holds for what was received, or fails after `timeoutMs`. */
  waitFor(check: (received: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(answer: (request: Received, index: number) => Answer = () => ({ status: 200 })): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(entry);
      const reply = answer(entry, received.length - 1);
      if (reply === 'hang') {
        hanging.add(res);
        return;
      }
      setTimeout(() => res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers }).end('ok'), reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    async waitFor(check, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check(received)) {
        if (Date.now() > deadline) {
          throw new Error(`the receiver did not get what was expected in ${timeoutMs} ms; it got:\n${received.map((r) => `${r.path} ${r.body}`).join('\n')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return received;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The parsed bodies of the deliveries received, by event type. */
export function eventsOf(received: Received[], type?: string): Array<Record<string, any>> {
  return received.map((entry) => JSON.parse(entry.body) as Record<string, any>).filter((event) => type === undefined || event.type === type);
}

/**
 * Servers and receivers a test file starts as it goes, each closed after its test: `serverWith` (no worker unless
 * asked) and `receiverWith`. Call at the top level of the file (it registers an afterEach).
 */
export function serversAndReceivers() {
  const servers: TestServer[] = [];
  const receivers: Receiver[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  });
  return {
    async serverWith(options: StartOptions = {}): Promise<TestServer> {
      const server = await startTestServer({ worker: false, ...options });
      servers.push(server);
      return server;
    },
    async receiverWith(answer?: (request: Received, index: number) => Answer): Promise<Receiver> {
      const receiver = await startReceiver(answer);
      receivers.push(receiver);
      return receiver;
    },
  };
}
