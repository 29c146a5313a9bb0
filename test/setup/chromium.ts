// vitest global set-up: the browser tests need Debian's chromium; scripts/ensure-chromium.sh installs it when missing,
// so that `npm test` works on a fresh machine as it does in CI.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function ensureChromium() {
  execFileSync('bash', [fileURLToPath(new URL('../../scripts/ensure-chromium.sh', import.meta.url))], { stdio: 'inherit' });
}
