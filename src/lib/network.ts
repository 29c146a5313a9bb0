// Whether a listen address (HOST) is reachable only from this machine. Operator surfaces that carry no credentials
// of their own by default (/metrics without METRICS_TOKEN, the dashboard without DASHBOARD=on) are served only then.
import { isIP } from 'node:net';

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare) || /^(0{1,4}:){7}0{0,3}1$/.test(bare);
  return false;
}
