// The embedded default's generated credentials, mirrored in a file of the data folder (readable by its owner only),
// for tools that run beside the server: the server holds the embedded database itself, so `npm run token` cannot open
// it while the server runs. The database stays the source of truth; each start rewrites the file from it.
import fs from 'node:fs';
import path from 'node:path';

const FILE = 'credentials.json';

export function writeCredentialsFile(dataDir: string, credentials: { apiKey: string; apiSecret: string }) {
  const file = path.join(dataDir, FILE);
  const text = `${JSON.stringify({ api_key: credentials.apiKey, api_secret: credentials.apiSecret })}\n`;
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

export function readCredentialsFile(dataDir: string): { apiKey: string; apiSecret: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(path.join(dataDir, FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const { api_key: apiKey, api_secret: apiSecret } = (parsed ?? {}) as { api_key?: unknown; api_secret?: unknown };
  return typeof apiKey === 'string' && typeof apiSecret === 'string' ? { apiKey, apiSecret } : undefined;
}
