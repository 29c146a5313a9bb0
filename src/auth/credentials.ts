// The app's key and secret: from the environment, or on the embedded default generated once and kept in the
// database so that `npm start` works on a bare machine. `created` tells the one start that generated them, the only
// one that may print the secret.
import { generatedCredentials } from '../app-settings/store.js';
import type { Db } from '../db/schema.js';
import { credentialsOf, type AppCredentials } from './core.js';

export async function resolveCredentials(
  db: Db,
  configured: { apiKey?: string; apiSecret?: string },
  allowGenerate: boolean,
): Promise<{ credentials: AppCredentials; generated: boolean; created: boolean }> {
  if (configured.apiKey && configured.apiSecret) {
    return { credentials: credentialsOf(configured.apiKey, configured.apiSecret), generated: false, created: false };
  }
  if (configured.apiKey || configured.apiSecret) throw new Error('set both STREAM_API_KEY and STREAM_API_SECRET, or neither');
  if (!allowGenerate) throw new Error('STREAM_API_KEY and STREAM_API_SECRET are required when DATABASE_URL is set');
  const { apiKey, apiSecret, created } = await generatedCredentials(db);
  return { credentials: credentialsOf(apiKey, apiSecret), generated: true, created };
}
