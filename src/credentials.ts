// The app's key and secret: from the environment, or on the embedded default generated once and kept in the
// database so that `npm start` works on a bare machine.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { secretKey } from './auth/jwt.js';
import type { AppCredentials } from './auth/plugin.js';
import type { Database } from './db/schema.js';

export function credentialsOf(apiKey: string, apiSecret: string): AppCredentials {
  return { apiKey, apiSecret, key: secretKey(apiSecret) };
}

/** Ensures the single app_settings row exists; fills in generated credentials when none are configured. */
export async function resolveCredentials(
  db: Kysely<Database>,
  configured: { apiKey?: string; apiSecret?: string },
  allowGenerate: boolean,
): Promise<{ credentials: AppCredentials; generated: boolean }> {
  await db.insertInto('app_settings').values({ id: 1 }).onConflict((oc) => oc.column('id').doNothing()).execute();
  if (configured.apiKey && configured.apiSecret) return { credentials: credentialsOf(configured.apiKey, configured.apiSecret), generated: false };
  if (configured.apiKey || configured.apiSecret) throw new Error('set both STREAM_API_KEY and STREAM_API_SECRET, or neither');
  if (!allowGenerate) throw new Error('STREAM_API_KEY and STREAM_API_SECRET are required when DATABASE_URL is set');
  const row = await db
    .updateTable('app_settings')
    .set((eb) => ({
      generated_api_key: eb.fn.coalesce('generated_api_key', eb.val(randomBytes(6).toString('hex'))),
      generated_api_secret: eb.fn.coalesce('generated_api_secret', eb.val(randomBytes(32).toString('base64url'))),
    }))
    .where('id', '=', 1)
    .returning(['generated_api_key', 'generated_api_secret'])
    .executeTakeFirstOrThrow();
  return { credentials: credentialsOf(row.generated_api_key!, row.generated_api_secret!), generated: true };
}
