// Client addresses and loopback: whether a listen address (HOST) or a request is from this machine only, which proxies
// are trusted to name the client (TRUST_PROXY), and the key an address is counted under.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare) || /^(0{1,4}:){7}0{0,3}1$/.test(bare);
  return false;
}

/**
 * Which proxies are trusted to name the client in X-Forwarded-For: none (false), the nearest `n` hops (a count), or
 * the peers among a list of addresses, CIDRs and proxy-addr's names (`loopback`, `linklocal`, `uniquelocal`). The
 * client is then the right-most address that is not a trusted proxy: entries left of it were written by the client.
 */
export type TrustProxy = false | number | readonly string[];

/** TRUST_PROXY: empty/off → none; a count → that many hops; on/true → 1 hop; else a comma-separated list. */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  const text = (value ?? '').trim();
  if (text === '' || /^(off|false|no|0)$/i.test(text)) return false;
  if (/^(on|true|yes)$/i.test(text)) return 1;
  if (/^\d+$/.test(text)) return Number(text);
  const list = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  try {
    proxyAddr.compile(list);
  } catch (error) {
    throw new Error(`TRUST_PROXY must be a hop count or a list of addresses or CIDRs, got "${text}": ${(error as Error).message}`);
  }
  return list;
}

/** The trust function of a setting (for Fastify's trustProxy and proxy-addr): `i` is 0 for the socket's peer. */
export function trustFunction(trust: TrustProxy | boolean | undefined): ((address: string, hop: number) => boolean) | false {
  if (trust === undefined || trust === false || trust === 0) return false;
  if (trust === true) return (_address, hop) => hop < 1;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile([...trust]);
}

/** The client address of a raw request (WebSocket upgrades): the socket's peer, or what the trusted proxies say. */
export function clientAddressOf(request: IncomingMessage, trust: ReturnType<typeof trustFunction>): string {
  if (!trust) return request.socket.remoteAddress ?? 'unknown';
  try {
    return proxyAddr(request, trust) || 'unknown';
  } catch {
    return request.socket.remoteAddress ?? 'unknown';
  }
}

/** The 16-bit groups of an IPv6 address (an IPv4 tail included), or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  const groupsOf = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = groupsOf(head);
  if (tail === undefined) return left;
  const right = groupsOf(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key a client address is counted under by the per-address limits: an IPv4 address as it is (an IPv4-mapped IPv6
 * one as IPv4), an IPv6 address by its /64, which one subscriber usually holds whole.
 */
export function addressKey(address: string): string {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  const groups = ipv6Groups(bare);
  if (!groups) return bare;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto'];

/** The host name of a Host header (no port; an IPv6 literal without its brackets). */
function hostName(host: string): string {
  const trimmed = host.trim().toLowerCase();
  if (trimmed.startsWith('[')) return trimmed.slice(1, trimmed.indexOf(']') === -1 ? undefined : trimmed.indexOf(']'));
  return trimmed.replace(/:\d*$/, '');
}

/**
 * Whether a request comes from this machine, for the operator surfaces served without credentials of their own
 * (/metrics without METRICS_TOKEN, the dashboard by default): the socket's peer is loopback and no proxy forwarded it
 * (a local reverse proxy's peer is loopback too), and its Host is a loopback name or PUBLIC_URL's host (a page of
 * another site that resolves its own name to 127.0.0.1, DNS rebinding, sends its own name).
 */
export function isLocalRequest(request: IncomingMessage, publicUrl: string | undefined): boolean {
  if (!isLoopbackHost(request.socket.remoteAddress ?? '')) return false;
  if (FORWARDING_HEADERS.some((header) => request.headers[header] !== undefined)) return false;
  const host = request.headers.host;
  if (typeof host !== 'string' || host === '') return false;
  const name = hostName(host);
  if (isLoopbackHost(name)) return true;
  if (!publicUrl) return false;
  try {
    return new URL(publicUrl).hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1') === name;
  } catch {
    return false;
  }
}
