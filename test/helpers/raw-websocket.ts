// A WebSocket client written on a bare TCP socket, for what a well-behaved client library never does: it completes
// the opening handshake, then may stop reading altogether while it keeps sending.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export interface RawSocket {
  /** The status line of the server's answer to the upgrade (`HTTP/1.1 101 …`, or a refusal). */
  status: string;
  /** Everything read before reading stopped (the upgrade answer and whatever frames followed it). */
  received: Buffer;
  socket: net.Socket;
  /** Sends a masked text frame, as a client must. */
  sendText(text: string): boolean;
  closed: Promise<void>;
}

/** A masked client frame carrying `payload` (RFC 6455 §5.2). */
export function clientFrame(payload: Buffer, opcode = 0x1): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  if (length >= 65_536) throw new Error('frame too long for this helper');
  const mask = randomBytes(4);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

/**
 * Opens `/connect` with the query given. With `stopReading`, the socket is paused as soon as the upgrade's answer has
 * been read: the server's frames then pile up in its buffers, as with a client that never reads.
 */
export function openRawWebSocket(baseUrl: string, query: Record<string, string>, options: { stopReading?: boolean } = {}): Promise<RawSocket> {
  const url = new URL('/connect', baseUrl);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let answered = false;
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (answered) return;
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      answered = true;
      if (options.stopReading) socket.pause();
      resolve({
        status: received.subarray(0, received.indexOf('\r\n')).toString(),
        get received() {
          return received;
        },
        socket,
        sendText: (text) => socket.writable && socket.write(clientFrame(Buffer.from(text))),
        closed,
      });
    });
    socket.once('close', () => {
      if (!answered) reject(new Error(`the socket closed before the upgrade was answered: ${received.toString()}`));
    });
  });
}
