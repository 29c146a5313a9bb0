// What `npm start` prints on generated credentials, for a person to copy: the key; the secret on the start that created
// it, and only then (in memory mode, every start creates it); and one curl line with a server token that expires in
// an hour (`npm run -s token` makes more).
import type { AppCredentials } from './auth/core.js';
import { signServerToken } from './auth/jwt.js';

const BANNER_TOKEN_SECONDS = 3600;

/** `dataDir` undefined: in memory, nothing is kept. */
export async function startBanner(credentials: AppCredentials, created: boolean, address: string, dataDir: string | undefined): Promise<string> {
  const token = await signServerToken(credentials.key, { expiresInSeconds: BANNER_TOKEN_SECONDS });
  const kept = dataDir === undefined ? 'in memory only: the next start makes new ones' : `kept in ${dataDir}; shown this once`;
  const secret = created
    ? `  API secret: ${credentials.apiSecret}\n  (generated now and ${kept}. Set STREAM_API_KEY and STREAM_API_SECRET to choose your own)\n`
    : `  (the secret generated on the first start is kept in ${dataDir}; \`npm run -s token\` makes tokens with it)\n`;
  return (
    `\n  API key:    ${credentials.apiKey}\n${secret}\n` +
    `  Try it (this token expires in an hour; \`npm run -s token\` prints another):\n` +
    `    curl -s "${address}/api/v2/users?api_key=${credentials.apiKey}" -H "stream-auth-type: jwt" -H "Authorization: ${token}"\n\n`
  );
}
